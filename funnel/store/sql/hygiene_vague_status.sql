-- Hygiene check vague_status: leads whose status says nothing, on each day D.
-- Grain: one row per day and flagged lead. Columns: as_of (the day D), lead_id, group (null), detail.
-- Fragments: @population (the text of hygiene_population.sql).
-- Params: $as_of_days (see hygiene_population.sql), $vague (the vague statuses, trimmed, lower-case).
with

population as (
/*@population*/
),

final as (
    select as_of, lead_id, cast(null as varchar) as "group", 'lead status: ' || lead_status as detail
    from population
    where list_contains($vague, lower(trim(lead_status)))
)

select * from final
