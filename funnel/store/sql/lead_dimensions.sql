-- The lead frame: one row per lead with the dimensions it can be segmented by.
-- Grain: lead_id (the store keeps one row per lead id and per account id). Columns: lead_id,
-- source, owner, lifecycle_stage, lead_status, country (the lead's, else its account's), industry
-- (the account's, else the lead's), employees (the account's, else the lead's), size_band, title,
-- account_id, company (the account's name, else the lead's company), created_at.
-- Params: $bands (ascending upper bounds of the size bands), $band_labels (one more than bounds).
with

listed as (
    select * from leads where lead_id is not null
),

companies as (
    select * from accounts where account_id is not null
),

joined as (
    select l.lead_id, l.source, l.owner, l.lifecycle_stage, l.lead_status,
           coalesce(l.country, a.country) as country,
           coalesce(a.industry, l.industry) as industry,
           coalesce(a.employees, l.employees) as employees,
           l.title, l.account_id, coalesce(a.name, l.company) as company, l.created_at
    from listed as l
    left join companies as a on a.account_id = l.account_id
),

final as (
    select lead_id, source, owner, lifecycle_stage, lead_status, country, industry, employees,
           case when employees is not null
                then $band_labels[1 + len(list_filter($bands, lambda b: b < employees))] end as size_band,
           title, account_id, company, created_at
    from joined
)

select * from final
