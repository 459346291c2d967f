-- Hygiene check unmapped_lifecycle: leads whose lifecycle value is on no lifecycle stage.
-- Grain: one row per flagged lead. Columns: lead_id, group (null), detail.
-- Fragments: @population (the text of hygiene_population.sql).
-- Params: $until (see hygiene_population.sql), $unmapped (the unmapped values).
with

population as (
/*@population*/
),

final as (
    select lead_id, cast(null as varchar) as "group", 'lifecycle stage: ' || lifecycle_stage as detail
    from population
    where list_contains($unmapped, lifecycle_stage)
)

select * from final
