-- Hygiene check no_engagement: leads in an active lifecycle stage at D with no meaningful
-- engagement (activity or last_engagement_at) for more than $days days.
-- Grain: one row per flagged lead. Columns: lead_id, group (null), detail.
-- Fragments: @population (the text of hygiene_population.sql), @lifecycle_entries (the text of
-- lifecycle_entries.sql).
-- Params: $until, $as_of (day D), those of lifecycle_entries.sql ($ladder, $stages), $active (the
-- active stages), $not_meaningful (activity types that are no engagement), $days.
with

population as (
/*@population*/
),

entries as (
/*@lifecycle_entries*/
),

current_stage as (
    select lead_id, list_extract($stages, arg_max(stage_rank, seq) + 1) as stage
    from entries
    group by lead_id
),

engaged as (
    select lead_id, max(occurred_at) as last_activity
    from activities
    where lead_id is not null
      and occurred_at < $until
      and not list_contains($not_meaningful, activity_type)
    group by lead_id
),

anchored as (
    select p.lead_id, c.stage, e.last_activity,
           greatest(e.last_activity, case when p.last_engagement_at < $until then p.last_engagement_at end)
               as last_engaged,
           p.created_at
    from population as p
    join current_stage as c on c.lead_id = p.lead_id
    left join engaged as e on e.lead_id = p.lead_id
    where list_contains($active, c.stage)
),

final as (
    select lead_id, cast(null as varchar) as "group",
           case when last_engaged is null
                then 'no meaningful engagement since it was created, '
                     || date_diff('day', cast(created_at as date), $as_of) || ' days ago'
                else date_diff('day', cast(last_engaged as date), $as_of) || ' days since the last meaningful engagement'
           end || ' (' || stage || ')' as detail
    from anchored
    where date_diff('day', cast(coalesce(last_engaged, created_at) as date), $as_of) > $days
)

select * from final
