-- One lead's activities up to D, as rows of its stage explanation (funnel/model/stages.py).
-- Grain: one row per activity of the lead. Columns: row_id (activity_id), what (activity_type), at
-- (occurred_at), detail (url).
-- Params: $lead (the lead id), $until (the first moment after day D).
with

final as (
    select activity_id as row_id, activity_type as what, occurred_at as at, url as detail
    from activities
    where lead_id = $lead and occurred_at < $until
)

select * from final
