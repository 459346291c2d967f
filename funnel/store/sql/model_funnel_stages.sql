-- Each lead's funnel stage at the end of D from the stored entries (funnel/model/materialised.py): the
-- latest entry at or before D, entries at one moment taken in entry order, as current_funnel_stage
-- (funnel/model/stages.py) takes it from the history. Each stored entry carries the time of the lead's next
-- one (next_at, see model_entries_next.sql), so that entry is a filter, not a sort.
-- Grain: lead_id (leads with an entry by D). Columns: lead_id, funnel_stage, stage_rank, is_side,
-- stage_entered_at, reason, evidence_type, evidence_id, evidence_at.
-- Params: $until (the first moment after day D).
with

final as (
    select lead_id, stage as funnel_stage, stage_rank, is_side, entered_at as stage_entered_at, reason,
           evidence_type, evidence_id, evidence_at
    from model_funnel_entries
    where entered_at < $until and (next_at is null or next_at >= $until)
)

select * from final
