-- Hygiene check duplicate_email: leads sharing an e-mail address (trimmed, any case).
-- Grain: one row per flagged lead. Columns: lead_id, group (the address), detail.
-- Fragments: @population (the text of hygiene_population.sql).
-- Params: $until (see hygiene_population.sql).
with

population as (
/*@population*/
),

keyed as (
    select lead_id, lower(regexp_replace(email, '^\s+|\s+$', '', 'g')) as k
    from population
    where email is not null
),

final as (
    select lead_id, k as "group",
           'same e-mail as ' || (count(*) over (partition by k) - 1) || ' other lead(s)' as detail
    from keyed
    where k <> ''
    qualify count(*) over (partition by k) > 1
)

select * from final
