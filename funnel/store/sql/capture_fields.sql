-- Grain: one row per lead (its latest stored row) with its entry point and whether each
-- segmentation field is filled (lead value, else its account's), its created_at, title text and
-- attributes (a list of {key, value}), and whether it reached `$stage`.
-- Relations: {leads}, {accounts}, {stage_events}, {activities}.
-- Params: $stage (the stage whose logged entry counts as converted), $until (the first moment after day D).
with

leads as (
    select *
    from {leads}
    where lead_id is not null
      and (created_at is null or created_at < $until)
    qualify row_number() over (partition by lead_id order by _import_id desc) = 1
),

accounts as (
    select account_id, any_value(industry) as industry, any_value(employees) as employees,
           any_value(country) as country, any_value(domain) as domain
    from {accounts}
    where account_id is not null
    group by account_id
),

first_touch as (
    select lead_id, arg_min(campaign, occurred_at) as campaign, arg_min(url, occurred_at) as url
    from {activities}
    where lead_id is not null and occurred_at < $until
    group by lead_id
),

reached as (
    select distinct lead_id
    from {stage_events}
    where stage = $stage and entered_at < $until
),

final as (
    select l.lead_id, l.source, f.campaign, f.url,
           nullif(trim(l.title), '') is not null as title,
           nullif(trim(l.phone), '') is not null as phone,
           coalesce(nullif(trim(l.company), ''), l.account_id) is not null as company,
           coalesce(nullif(trim(l.industry), ''), a.industry) is not null as industry,
           coalesce(l.employees, a.employees) is not null as employees,
           coalesce(nullif(trim(l.country), ''), a.country) is not null as country,
           nullif(trim(l.owner), '') is not null as owner,
           l.created_at,
           l.title as title_text,
           map_entries(l.attributes) as attributes,
           r.lead_id is not null as converted
    from leads as l
    left join accounts as a on a.account_id = l.account_id
    left join first_touch as f on f.lead_id = l.lead_id
    left join reached as r on r.lead_id = l.lead_id
)

select * from final
