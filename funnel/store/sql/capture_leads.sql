-- Grain: one row per lead (its latest stored row) created by D or undated, with its entry point,
-- whether each segmentation field is filled (lead value, else its account's), whether it has an
-- owner, its created_at, title text and attributes (a list of {key, value}).
-- Relations: {leads}, {accounts}.
-- Params: $until (the first moment after day D).
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

final as (
    select l.lead_id, l.source,
           nullif(trim(l.title), '') is not null as title,
           nullif(trim(l.phone), '') is not null as phone,
           coalesce(nullif(trim(l.company), ''), l.account_id) is not null as company,
           coalesce(nullif(trim(l.industry), ''), a.industry) is not null as industry,
           coalesce(l.employees, a.employees) is not null as employees,
           coalesce(nullif(trim(l.country), ''), a.country) is not null as country,
           nullif(trim(l.owner), '') is not null as owner,
           l.created_at,
           l.title as title_text,
           map_entries(l.attributes) as attributes
    from leads as l
    left join accounts as a on a.account_id = l.account_id
)

select * from final
