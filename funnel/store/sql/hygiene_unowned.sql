-- The leads at D without an owner (the no_owner check keeps those at intent or beyond).
-- Grain: lead_id. Columns: lead_id.
-- Fragments: @population (the text of hygiene_population.sql).
-- Params: $until (see hygiene_population.sql).
with

population as (
/*@population*/
),

final as (
    select lead_id
    from population
    where nullif(trim(owner), '') is null
)

select * from final
