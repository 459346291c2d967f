-- Hygiene check impossible_sequence: dates in an impossible order (a deal closed before the lead
-- was created or before the deal was; a stage entered before the lead was created).
-- Grain: one row per flagged lead. Columns: lead_id, group (null), detail (the problems found).
-- Fragments: @population (the text of hygiene_population.sql).
-- Params: $until (see hygiene_population.sql).
with

population as (
/*@population*/
),

dated as (
    select lead_id, created_at from population where created_at is not null
),

closed_deals as (
    select d.lead_id, d.created_at, d.closed_at
    from deals as d
    join population as p on p.lead_id = d.lead_id
    where d.closed_at is not null
      and d.closed_at < $until
),

problems as (
    select d.lead_id, 'a deal closed before the lead was created' as problem
    from closed_deals as d
    join dated as l on l.lead_id = d.lead_id
    where cast(d.closed_at as date) < cast(l.created_at as date)
    union all
    select lead_id, 'a deal closed before it was created'
    from closed_deals
    where created_at is not null
      and cast(closed_at as date) < cast(created_at as date)
    union all
    select e.lead_id, 'a stage entered before the lead was created'
    from stage_events as e
    join dated as l on l.lead_id = e.lead_id
    where e.entered_at < $until
      and cast(e.entered_at as date) < cast(l.created_at as date)
),

final as (
    select lead_id, cast(null as varchar) as "group", string_agg(distinct problem, '; ' order by problem) as detail
    from problems
    group by lead_id
)

select * from final
