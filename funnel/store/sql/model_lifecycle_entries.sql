-- The lifecycle ladder's stored entries cut at day D (funnel/model/materialised.py): the rows of
-- lifecycle_entries.sql run once over all the data. The ladder is causal, so they are its rows at D: an
-- entry is kept when dated before the end of D, or undated (a lead placed from its current stage without
-- a created date counts at every date), with the same seq and prev_rank.
-- Grain: one row per entry. Columns: those of lifecycle_entries.sql (lead_id, stage_rank, entered_at,
-- reason, basis, seq, prev_rank). Params: $until (the first moment after day D).
with

final as (
    select lead_id, stage_rank, entered_at, reason, basis, seq, prev_rank
    from model_lifecycle_entries
    where entered_at is null or entered_at < $until
)

select * from final
