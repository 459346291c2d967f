-- The leads table's rows of the leads in {lead_ids}, one per lead id (as lead_rows.sql reads them: the
-- store keeps one; any one if a store has more), for a list of a few leads shown with their fields.
-- Grain: lead_id. Columns: lead_id and the columns asked for (@columns, quoted names of leads columns).
-- Relations: {lead_ids} (a registered frame with the column lead_id). Params: none.
with

wanted as (
    select distinct lead_id
    from {lead_ids}
),

one_each as (
    select l.*
    from leads as l
    join wanted as w on w.lead_id = l.lead_id
    qualify row_number() over (partition by l.lead_id) = 1
),

final as (
    select lead_id, /*@columns*/
    from one_each
)

select * from final
