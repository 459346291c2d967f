-- One lead's creation, as a row of its stage explanation (funnel/model/stages.py).
-- Grain: lead_id (one row when the lead was created by the end of D). Columns: row_id (null),
-- what, at (created_at), detail (source).
-- Params: $lead (the lead id), $until (the first moment after day D).
with

final as (
    select cast(null as varchar) as row_id, 'lead created' as what, created_at as at, source as detail
    from leads
    where lead_id = $lead and created_at < $until
)

select * from final
