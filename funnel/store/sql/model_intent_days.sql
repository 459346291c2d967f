-- The stored inputs of intent (funnel/model/materialised.py) in a lookback window: the rows of
-- intent_days.sql, kept once for all the data, read for the days from $since to $as_of.
-- Grain: lead_id × activity_type × day. Columns: lead_id, activity_type, day, activities.
-- Params: $since (the first day of the window), $as_of (its last day, D), $types (the weighted
-- types), $lead_ids (only when limited). Fragment: @lead_filter (limits the leads to $lead_ids, or empty).
with

final as (
    select lead_id, activity_type, day, activities
    from model_intent_days
    where day >= $since and day <= $as_of and list_contains($types, activity_type)/*@lead_filter*/
)

select * from final
