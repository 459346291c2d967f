-- Grain: one row per lead (the row of its latest import), with what duplicate matching and
-- merge suggestions read: identity fields as exported and the account's domain (the last activity, which
-- only one survivor rule reads, comes from hygiene_last_activity.sql for the leads in duplicate groups).
-- Relations: {leads}, {accounts}. Params: none.
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

final as (
    select l.lead_id, l.email, l.name, l.first_name, l.last_name, l.title, l.phone, l.account_id, l.company,
           l.created_at, l.source, l.owner, l.lifecycle_stage, l.lead_status, l.industry, l.employees,
           l.country, a.account_domain
    from leads as l
    left join account_domains as a on a.account_id = l.account_id
)

select * from final
