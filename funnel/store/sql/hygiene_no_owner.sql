-- Hygiene check no_owner: leads at D at a funnel stage from intent on, without an owner, on each day D.
-- Grain: one row per day and flagged lead. Columns: as_of (the day D), lead_id, group (null), detail.
-- Fragments: @population (the text of hygiene_population.sql), @funnel_stages (each lead's funnel stage at
-- each day: as_of, lead_id, funnel_stage; model_funnel_stages_on.sql or hygiene_funnel_stages_given.sql).
-- Params: $as_of_days (see hygiene_population.sql), $beyond (the funnel stages that need an owner).
with

population as (
/*@population*/
),

stages as (
/*@funnel_stages*/
),

final as (
    select p.as_of, p.lead_id, cast(null as varchar) as "group", 'no owner, at ' || s.funnel_stage as detail
    from population as p
    join stages as s on s.as_of = p.as_of and s.lead_id = p.lead_id
    where nullif(trim(p.owner), '') is null
      and list_contains($beyond, s.funnel_stage)
)

select * from final
