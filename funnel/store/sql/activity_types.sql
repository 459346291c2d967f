-- The activity types present at D (the codes of the funnel stage engine's time line).
-- Grain: activity_type (distinct values, null included). Columns: activity_type.
-- Params: $until (the first moment after day D), $lead_ids (only when limited).
-- Fragment: @lead_filter (limits the leads to $lead_ids, or empty).
with

final as (
    select distinct activity_type
    from activities
    where occurred_at < $until/*@lead_filter*/
)

select * from final
