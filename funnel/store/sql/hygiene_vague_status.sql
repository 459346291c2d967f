-- Hygiene check vague_status: leads whose status says nothing.
-- Grain: one row per flagged lead. Columns: lead_id, group (null), detail.
-- Fragments: @population (the text of hygiene_population.sql).
-- Params: $until (see hygiene_population.sql), $vague (the vague statuses, trimmed, lower-case).
with

population as (
/*@population*/
),

final as (
    select lead_id, cast(null as varchar) as "group", 'lead status: ' || lead_status as detail
    from population
    where list_contains($vague, lower(trim(lead_status)))
)

select * from final
