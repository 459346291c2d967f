-- Grain: one row per lead (the first stored row of each lead_id), with what duplicate matching and
-- merge suggestions read: identity fields as exported, the account's domain, and the last activity.
-- Relations: {leads}, {accounts}, {activities}. Params: none.
with

leads as (
    select *
    from {leads}
    where lead_id is not null
    qualify row_number() over (partition by lead_id order by _import_id desc) = 1
),

account_domains as (
    select account_id, any_value(domain) as account_domain
    from {accounts}
    where account_id is not null
    group by account_id
),

last_touch as (
    select lead_id, max(occurred_at) as last_activity_at
    from {activities}
    where lead_id is not null
    group by lead_id
),

final as (
    select l.lead_id, l.email, l.name, l.first_name, l.last_name, l.title, l.phone, l.account_id, l.company,
           l.created_at, l.source, l.owner, l.lifecycle_stage, l.lead_status, l.industry, l.employees,
           l.country, a.account_domain,
           greatest(t.last_activity_at, l.last_engagement_at) as last_activity_at
    from leads as l
    left join account_domains as a on a.account_id = l.account_id
    left join last_touch as t on t.lead_id = l.lead_id
)

select * from final
