-- The funnel ladder's stored entries cut at day D (funnel/model/materialised.py): the stage engine is
-- causal, so the entries of one run over all the data, cut at the first moment after D, are the
-- entries of a run as of D. Grain: one row per entry. Columns: those of the funnel history.
-- Params: $until (the first moment after day D).
-- Fragments: @lead_filter (limits the leads to $lead_ids, or empty); @evidence (the evidence columns
-- evidence_type, evidence_id and evidence_at, or empty: the metrics never read them).
with

final as (
    select lead_id, stage, stage_rank, entered_at, reason, is_side, /*@evidence*/ entry_order
    from model_funnel_entries
    where (entered_at is null or entered_at < $until) /*@lead_filter*/
)

select * from final
order by lead_id, entry_order
