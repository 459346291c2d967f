-- identity_lead_labels: ids that join a lead directly: the lead id itself, else the normalised e-mail,
-- else the full name (deals exported with contact names). Reads the build's temp tables _nodes,
-- _lead_emails and _lead_names.
-- Grain: one row per node joined directly. Columns: node, label (the lead id), matched_by.
-- Params: none.
with

final as (
    select n.node, coalesce(l.lead_id, e.lead_id, nm.lead_id) as label,
           case when l.lead_id is not null then 'lead_id' when e.lead_id is not null then 'email'
                else 'name' end as matched_by
    from _nodes n
    left join raw.leads l on l.lead_id = n.node
    left join _lead_emails e on e.email = n.email
    left join _lead_names nm on nm.name = n.name
    where l.lead_id is not null or e.lead_id is not null or nm.lead_id is not null
)

select * from final
