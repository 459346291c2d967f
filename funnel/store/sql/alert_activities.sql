-- Activities that trigger an "activity" alert rule (funnel/analyses/routing.py).
-- Grain: one row per lead and activity type (the newest matching activity since $since).
-- Columns: lead_id, activity_type, at (newest occurrence), activities (how many).
-- Params: $since (first moment counted), $until (first moment after D), $types.
with

matching as (
    select lead_id, activity_type, occurred_at
    from activities
    where lead_id is not null and occurred_at >= $since and occurred_at < $until
      and list_contains($types, activity_type)
),

final as (
    select lead_id, activity_type, max(occurred_at) as at, count(*) as activities
    from matching
    group by lead_id, activity_type
)

select * from final
