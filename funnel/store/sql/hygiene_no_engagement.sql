-- Hygiene check no_engagement: leads in an active lifecycle stage at D with no meaningful
-- engagement (activity or last_engagement_at) for more than $days days, on each day D.
-- Grain: one row per day and flagged lead. Columns: as_of (the day D), lead_id, group (null), detail.
-- Relations: {lifecycle_stages} (hygiene_lifecycle_stages.sql, read once). Fragments: @days (the text of
-- hygiene_days.sql), @population (the text of hygiene_population.sql), @engaged (each lead's last meaningful
-- activity at each day: hygiene_engaged.sql, or model_engaged.sql when the lead model holds the engagement days).
-- Params: $as_of_days (see hygiene_days.sql), $active (the active stages), $days (the days without engagement
-- that are too many), and those of @engaged.
with

days as (
/*@days*/
),

population as (
/*@population*/
),

-- each lead's last meaningful activity before the end of each day D
engaged as (
/*@engaged*/
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
