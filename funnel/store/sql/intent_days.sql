-- The inputs of intent read from the activities: how many activities each lead had of each type on
-- each day of a window (funnel/model/scoring.py intent_scores weights and decays them for a day D).
-- Grain: lead_id × activity_type × day. Columns: lead_id, activity_type, day (the activity's date),
-- activities (how many). Params: $since (the first day of the window), $until (the first moment
-- after it), $types (only with @type_filter), $lead_ids (only with @lead_filter).
-- Fragments: @type_filter (limits the types to $types, or empty), @lead_filter (limits the leads to
-- $lead_ids, or empty).
with

final as (
    select lead_id, activity_type, cast(occurred_at as date) as day, count(*) as activities
    from activities
    where occurred_at < $until and occurred_at >= $since
      and lead_id is not null/*@type_filter*//*@lead_filter*/
    group by all
)

select * from final
