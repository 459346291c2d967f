-- Intent points per lead and activity type: each activity in the lookback weighted by its type and
-- halved every half-life of days before D.
-- Grain: lead_id × activity_type (types with a weight only). Columns: lead_id, activity_type, points.
-- Params: $until (the first moment after day D), $since (the first day of the lookback), $as_of (D),
-- $types and $weights (the weighted types and their weights, in the same order), $half_life (days),
-- $lead_ids (only when limited). Fragment: @lead_filter (limits the leads to $lead_ids, or empty).
with

weighted as (
    select lead_id, activity_type,
           $weights[list_position($types, activity_type)]
               * pow(0.5, date_diff('day', cast(occurred_at as date), $as_of) / $half_life) as points
    from activities
    where occurred_at < $until and occurred_at >= $since
      and lead_id is not null
      and list_contains($types, activity_type)/*@lead_filter*/
),

final as (
    select lead_id, activity_type, sum(points) as points
    from weighted
    group by all
)

select * from final
