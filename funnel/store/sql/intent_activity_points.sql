-- Each lead's activity points of intent at D: every day's activities of a weighted type add weight ×
-- count × 0.5^(age in days / half-life); each type's points are capped, then added up per lead.
-- The lead model's stored rows and the rows counted from the activities are the same rows, so this one
-- query gives the same points from either.
-- Grain: lead_id (leads with a weighted activity in the lookback). Columns: lead_id, activity_points.
-- Params: $as_of (D), $types and $weights (the weighted types and their weights, in the same order),
-- $half_life (days), $cap_types and $caps (the capped types and their caps, in the same order), and
-- those of the day rows. Fragment: @day_rows (a query of lead_id, activity_type, day, activities in
-- D's lookback: intent_days.sql, or model_intent_days.sql when the lead model holds them).
with

day_rows as (
    /*@day_rows*/
),

weighted as (
    select lead_id, activity_type, day,
           $weights[list_position($types, activity_type)] * activities
               * pow(0.5, date_diff('day', day, $as_of) / $half_life) as points
    from day_rows
),

per_type as (
    select lead_id, activity_type,
           least(cast(sum(cast(points as decimal(38, 12))) as double),
                 coalesce($caps[list_position($cap_types, activity_type)], 'infinity'::double)) as points
    from weighted
    group by lead_id, activity_type
),

final as (
    select lead_id, cast(sum(cast(points as decimal(38, 12))) as double) as activity_points
    from per_type
    group by lead_id
)

select * from final
