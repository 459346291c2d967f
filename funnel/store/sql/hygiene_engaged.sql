-- Each lead's last meaningful activity at each day D, from the activities (the no-engagement check's @engaged):
-- the activities are read once, up to the latest day, and reduced to each lead's last one per bucket: bucket b
-- holds those after the ends of the first b days (in order), so they count for the days after the first b.
-- Grain: (as_of, lead_id), the leads with a meaningful activity by the end of D. Columns: as_of, lead_id,
-- last_activity.
-- Fragments: @days (the text of hygiene_days.sql), @activity_times (the activities' lead, type and moment:
-- hygiene_activity_times.sql, or model_activity_days.sql when the lead model holds the activity days).
-- Params: $as_of_days (see hygiene_days.sql), $until (the first moment after the latest day), $not_meaningful
-- (activity types that are no engagement).
with

days as (
/*@days*/
),

activity_times as (
/*@activity_times*/
),

ends as (
    select list(distinct until order by until) as untils
    from days
),

bucketed as (
    select a.lead_id, len(list_filter(e.untils, lambda u: u <= a.occurred_at)) as bucket,
           max(a.occurred_at) as last_activity
    from activity_times as a
    cross join ends as e
    where a.lead_id is not null
      and a.occurred_at < $until
      and not list_contains($not_meaningful, a.activity_type)
    group by a.lead_id, bucket
),

placed_days as (
    select as_of, row_number() over (order by as_of) as place
    from days
),

final as (
    select d.as_of, b.lead_id, max(b.last_activity) as last_activity
    from bucketed as b
    join placed_days as d on b.bucket < d.place
    group by d.as_of, b.lead_id
)

select * from final
