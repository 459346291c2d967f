-- Who a lead is, for the rows behind a number: one row per lead.
-- Grain: lead_id. Columns: lead_id, name, email, company, owner, source, lead_status.
-- Params: none.
with

companies as (
    select account_id, name from accounts where account_id is not null
),

final as (
    select l.lead_id, coalesce(l.name, nullif(concat_ws(' ', l.first_name, l.last_name), '')) as name,
           l.email, coalesce(a.name, l.company) as company, l.owner, l.source, l.lead_status
    from leads as l
    left join companies as a on a.account_id = l.account_id
    where l.lead_id is not null
)

select * from final
