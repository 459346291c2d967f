-- Hygiene check no_engagement: leads in an active lifecycle stage at D with no meaningful
-- engagement (activity or last_engagement_at) for more than $days days, on each day D.
-- Grain: one row per day and flagged lead. Columns: as_of (the day D), lead_id, group (null), detail.
-- Relations: {lifecycle_stages} (hygiene_lifecycle_stages.sql, read once). Fragments: @days (the text of
-- hygiene_days.sql), @population (the text of hygiene_population.sql), @activity_times (the activities' lead,
-- type and moment: hygiene_activity_times.sql, or model_activity_days.sql when the lead model holds them).
-- Params: $as_of_days (see hygiene_days.sql), $until (the first moment after the latest day), $active (the
-- active stages), $not_meaningful (activity types that are no engagement), $days (the days without
-- engagement that are too many).
with

days as (
/*@days*/
),

population as (
/*@population*/
),

activity_times as (
/*@activity_times*/
),

-- the activities are read once, up to the latest day, and reduced to each lead's last one per bucket: bucket
-- b holds those after the ends of the first b days (in order), so they count for the days after the first b
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

engaged as (
    select d.as_of, b.lead_id, max(b.last_activity) as last_activity
    from bucketed as b
    join placed_days as d on b.bucket < d.place
    group by d.as_of, b.lead_id
),

anchored as (
    select p.as_of, p.lead_id, c.stage, e.last_activity,
           greatest(e.last_activity, case when p.last_engagement_at < p.until then p.last_engagement_at end)
               as last_engaged,
           p.created_at
    from population as p
    join {lifecycle_stages} as c on c.as_of = p.as_of and c.lead_id = p.lead_id
    left join engaged as e on e.as_of = p.as_of and e.lead_id = p.lead_id
    where list_contains($active, c.stage)
),

final as (
    select as_of, lead_id, cast(null as varchar) as "group",
           case when last_engaged is null
                then 'no meaningful engagement since it was created, '
                     || date_diff('day', cast(created_at as date), as_of) || ' days ago'
                else date_diff('day', cast(last_engaged as date), as_of) || ' days since the last meaningful engagement'
           end || ' (' || stage || ')' as detail
    from anchored
    where date_diff('day', cast(coalesce(last_engaged, created_at) as date), as_of) > $days
)

select * from final
