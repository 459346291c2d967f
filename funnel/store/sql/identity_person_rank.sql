-- identity_person_rank: without a leads table, the order in which people win a contested id: the
-- smallest person id first. Reads the build's temp table _labels.
-- Grain: one row per person (label). Columns: label, rank (1 wins).
-- Params: none.
with

people as (
    select distinct label from _labels
),

final as (
    select label, row_number() over (order by label) as rank
    from people
)

select * from final
