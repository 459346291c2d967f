-- One row per stay at a funnel stage (the spans content_next_stage.sql reads): each entry at or before D
-- with the lead's next entry in time, entries at one moment taken in entry order, as the stage engine
-- orders them (an entry without a time first, as Polars sorts a null).
-- Grain: one row per funnel entry at or before D. Columns: lead_id, stage, stage_rank, entered_at, next_at,
-- next_rank, next_side (the next entry's time, rank and side flag; null for the lead's latest entry).
-- Relations: {entries} (model_funnel_entries, or the engine's funnel history registered: lead_id, stage,
-- stage_rank, entered_at, is_side, entry_order). Params: $until (the first moment after day D).
with

cut as (
    select lead_id, stage, stage_rank, entered_at, is_side, entry_order
    from {entries}
    where entered_at is null or entered_at < $until
),

final as (
    select lead_id, stage, stage_rank, entered_at,
           lead(entered_at) over (partition by lead_id order by entered_at asc nulls first, entry_order asc nulls first) as next_at,
           lead(stage_rank) over (partition by lead_id order by entered_at asc nulls first, entry_order asc nulls first) as next_rank,
           lead(is_side) over (partition by lead_id order by entered_at asc nulls first, entry_order asc nulls first) as next_side
    from cut
)

select * from final
