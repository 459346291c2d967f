-- The funnel ladder's entries as of D, for the reference (benchmarks/reference_metrics.sql): the lead
-- model's stored run of the stage engine (model_funnel_entries), cut at D.
-- Grain: one row per entry (repeats not yet dropped). Columns: lead_id, stage_rank, entered_at, placed,
-- tie (the engine's entry_order), tie_reason.
-- Params: $stages (main stages, then side states), $until (the first moment after day D).
select lead_id, cast(list_position($stages, stage) - 1 as integer) as stage_rank, entered_at, false as placed,
       cast(entry_order as bigint) as tie, cast(null as varchar) as tie_reason
from model_funnel_entries
where (entered_at is null or entered_at < $until)
  and lead_id is not null and list_position($stages, stage) is not null
