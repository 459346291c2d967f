-- Who a lead is, for the rows behind a number: one row per lead of {lead_ids} (the leads behind it only).
-- Grain: lead_id. Columns: lead_id, name, email, company, owner, source, lead_status.
-- Relations: {lead_ids} (a registered frame with the column lead_id). Params: none.
with

wanted as (
    select distinct lead_id
    from {lead_ids}
),

companies as (
    select account_id, name from accounts where account_id is not null
),

final as (
    select l.lead_id, coalesce(l.name, nullif(concat_ws(' ', l.first_name, l.last_name), '')) as name,
           l.email, coalesce(a.name, l.company) as company, l.owner, l.source, l.lead_status
    from leads as l
    join wanted as w on w.lead_id = l.lead_id
    left join companies as a on a.account_id = l.account_id
)

select * from final
