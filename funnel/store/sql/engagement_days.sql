-- Each lead's days with a meaningful activity over all the data, each with the lead's next such day: the lead
-- model's engagement days (model_engagement_days). A lead's last meaningful day at the end of D is the one day
-- on or before D whose next day is after D (or that has none), so each as-of date picks one row per lead
-- (model_engaged.sql) instead of grouping every activity again.
-- Grain: (lead_id, day). Columns: lead_id, day (a day with a meaningful activity), next_day (the lead's next
-- such day; null for its last).
-- Fragment: @activity_times (the activities' lead, type and moment: hygiene_activity_times.sql, or
-- model_activity_days.sql when the lead model holds the activity days).
-- Params: $until (the first moment after the last day read), $not_meaningful (activity types that are no
-- engagement).
with

activity_times as (
/*@activity_times*/
),

engaged_days as (
    select distinct lead_id, cast(occurred_at as date) as day
    from activity_times
    where lead_id is not null
      and occurred_at < $until
      and not list_contains($not_meaningful, activity_type)
),

final as (
    select lead_id, day, lead(day) over (partition by lead_id order by day) as next_day
    from engaged_days
)

select * from final
