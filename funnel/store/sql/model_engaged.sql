-- Each lead's last meaningful activity at each day D, from the lead model's engagement days (the no-engagement
-- check's @engaged when the model holds them): the lead's meaningful day on or before D whose next one is after
-- D, at the start of that day (the check counts whole days, so a day's start stands for its activities).
-- Grain: (as_of, lead_id), the leads with a meaningful activity by the end of D. Columns: as_of, lead_id,
-- last_activity.
-- Relations: {engagement_days} (model_engagement_days: engagement_days.sql to the horizon).
-- Fragments: @days (the text of hygiene_days.sql). Params: $as_of_days (see hygiene_days.sql).
with

days as (
/*@days*/
),

final as (
    select d.as_of, e.lead_id, cast(e.day as timestamp) as last_activity
    from {engagement_days} as e
    join days as d on e.day <= d.as_of and (e.next_day is null or e.next_day > d.as_of)
)

select * from final
