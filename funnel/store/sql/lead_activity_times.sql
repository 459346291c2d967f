-- One lead's activities up to D: what type and when (the gaps to the lead's next funnel stage).
-- Grain: one row per activity of the lead. Columns: t (activity_type), at (occurred_at).
-- Params: $lead (the lead id), $until (the first moment after day D).
with

final as (
    select activity_type as t, occurred_at as at
    from activities
    where lead_id = $lead and occurred_at < $until
)

select * from final
