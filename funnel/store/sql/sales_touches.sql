-- Sales touches after a moment, for the routing what-if's speed-to-lead (funnel/analyses/routing.py).
-- Grain: one row per sales touch. Columns: lead_id, touched_at.
-- Params: $since (first moment counted), $until (first moment after D), $touch (the activity type).
with

final as (
    select lead_id, occurred_at as touched_at
    from activities
    where lead_id is not null and activity_type = $touch and occurred_at >= $since and occurred_at < $until
)

select * from final
