-- Hygiene check no_next_action: owned leads in an active lifecycle stage at D without a next
-- action date, on each day D.
-- Grain: one row per day and flagged lead. Columns: as_of (the day D), lead_id, group (null), detail.
-- Relations: {lifecycle_stages} (hygiene_lifecycle_stages.sql, read once). Fragments: @population (the text
-- of hygiene_population.sql).
-- Params: $as_of_days (see hygiene_population.sql), $active (the active stages).
with

population as (
/*@population*/
),

final as (
    select p.as_of, p.lead_id, cast(null as varchar) as "group",
           'owned, at ' || c.stage || ', no next action date' as detail
    from population as p
    join {lifecycle_stages} as c on c.as_of = p.as_of and c.lead_id = p.lead_id
    where nullif(trim(p.owner), '') is not null
      and p.next_action_at is null
      and list_contains($active, c.stage)
)

select * from final
