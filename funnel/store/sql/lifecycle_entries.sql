-- The lifecycle ladder as of day D: the one query behind the lifecycle stage history, the handoff
-- review and the hygiene checks.
-- Grain: one row per stage entry at or before the end of day D, consecutive repeats of a stage
-- dropped. Columns: lead_id, stage_rank (0-based place among $stages), entered_at, reason,
-- basis ('stage_event': from the stage log; 'current_stage': placed from leads.lifecycle_stage at
-- created_at, for a lead the log never mentions), seq (increasing per lead in ladder order: time,
-- undated first, then rank, then reason; repeats dropped leave gaps), prev_rank (the rank of the
-- entry before, null at the first).
-- Params: $ladder (stage_events rows whose ladder is empty count as lifecycle), $stages (main
-- stages in order, then side states), $until (the first moment after day D).
-- A lead the log mentions at any date, or with a stage off the ladder, is never placed from its
-- current stage; a logged entry on the ladder without a date is neither used nor a mention.
with

on_ladder as (
    select lead_id, stage, entered_at, reason,
           list_position($stages, stage) is not null and entered_at < $until as in_view
    from stage_events
    where coalesce(ladder, 'lifecycle') = $ladder
      and lead_id is not null
),

logged as (
    select lead_id, cast(list_position($stages, stage) - 1 as integer) as stage_rank, entered_at, reason,
           'stage_event' as basis
    from on_ladder
    where in_view
),

mentioned as (
    select distinct lead_id
    from on_ladder
    where in_view is not null
),

placed as (
    select l.lead_id, cast(list_position($stages, l.lifecycle_stage) - 1 as integer) as stage_rank,
           l.created_at as entered_at, cast(null as varchar) as reason, 'current_stage' as basis
    from leads as l
    anti join mentioned as m on l.lead_id = m.lead_id
    where l.lead_id is not null
      and list_position($stages, l.lifecycle_stage) is not null
      and (l.created_at is null or l.created_at < $until)
),

final as (
    select lead_id, stage_rank, entered_at, reason, basis,
           row_number() over w as seq,
           lag(stage_rank) over w as prev_rank
    from (select * from logged union all select * from placed)
    window w as (partition by lead_id order by entered_at asc nulls first, stage_rank, reason nulls last)
    -- a repeat of the stage the lead is already in is no new entry; the entry before a kept one
    -- has the rank of the last kept entry, so prev_rank is the rank the lead left
    qualify coalesce(lag(stage_rank) over w <> stage_rank, true)
)

select * from final
