-- Hygiene check impossible_sequence: dates in an impossible order (a deal closed before the lead
-- was created or before the deal was; a stage entered before the lead was created), on each day D.
-- Grain: one row per day and flagged lead. Columns: as_of (the day D), lead_id, group (null), detail (the
-- problems found).
-- Fragments: @population (the text of hygiene_population.sql).
-- Params: $as_of_days (see hygiene_population.sql).
with

population as (
/*@population*/
),

dated as (
    select as_of, until, lead_id, created_at from population where created_at is not null
),

closed_deals as (
    select p.as_of, d.lead_id, d.created_at, d.closed_at
    from deals as d
    join population as p on p.lead_id = d.lead_id
    where d.closed_at is not null
      and d.closed_at < p.until
),

problems as (
    select d.as_of, d.lead_id, 'a deal closed before the lead was created' as problem
    from closed_deals as d
    join dated as l on l.as_of = d.as_of and l.lead_id = d.lead_id
    where cast(d.closed_at as date) < cast(l.created_at as date)
    union all
    select as_of, lead_id, 'a deal closed before it was created'
    from closed_deals
    where created_at is not null
      and cast(closed_at as date) < cast(created_at as date)
    union all
    select l.as_of, e.lead_id, 'a stage entered before the lead was created'
    from stage_events as e
    join dated as l on l.lead_id = e.lead_id
    where e.entered_at < l.until
      and cast(e.entered_at as date) < cast(l.created_at as date)
),

final as (
    select as_of, lead_id, cast(null as varchar) as "group",
           string_agg(distinct problem, '; ' order by problem) as detail
    from problems
    group by as_of, lead_id
)

select * from final
