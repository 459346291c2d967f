-- Hygiene check unmapped_lifecycle: leads whose lifecycle value is on no lifecycle stage, on each day D.
-- Grain: one row per day and flagged lead. Columns: as_of (the day D), lead_id, group (null), detail.
-- Fragments: @population (the text of hygiene_population.sql).
-- Params: $as_of_days (see hygiene_population.sql), $unmapped (the unmapped values).
with

population as (
/*@population*/
),

final as (
    select as_of, lead_id, cast(null as varchar) as "group", 'lifecycle stage: ' || lifecycle_stage as detail
    from population
    where list_contains($unmapped, lifecycle_stage)
)

select * from final
