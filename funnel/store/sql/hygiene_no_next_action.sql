-- Hygiene check no_next_action: owned leads in an active lifecycle stage at D without a next
-- action date.
-- Grain: one row per flagged lead. Columns: lead_id, group (null), detail.
-- Fragments: @population (the text of hygiene_population.sql), @lifecycle_entries (the text of
-- lifecycle_entries.sql).
-- Params: $until, those of lifecycle_entries.sql ($ladder, $stages), $active (the active stages).
with

population as (
/*@population*/
),

entries as (
/*@lifecycle_entries*/
),

current_stage as (
    select lead_id, list_extract($stages, arg_max(stage_rank, seq) + 1) as stage
    from entries
    group by lead_id
),

final as (
    select p.lead_id, cast(null as varchar) as "group", 'owned, at ' || c.stage || ', no next action date' as detail
    from population as p
    join current_stage as c on c.lead_id = p.lead_id
    where nullif(trim(p.owner), '') is not null
      and p.next_action_at is null
      and list_contains($active, c.stage)
)

select * from final
