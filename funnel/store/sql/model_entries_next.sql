-- A batch of the funnel engine's entries (whole leads) as model_funnel_entries stores them
-- (funnel/model/materialised.py): each dated entry with next_at, the time of the lead's next dated entry,
-- entries at one moment taken in entry order (null for the lead's latest dated entry, and for an entry
-- without a time). An entry is then the lead's stage at the end of D exactly when
-- entered_at < $until and (next_at is null or next_at >= $until): a filter, not a sort, per as-of date.
-- Grain: one row per entry. Columns: those of model_funnel_entries, in its order.
-- Relations: {entries} (the batch: lead_id, stage, stage_rank, entered_at, reason, is_side, evidence_type,
-- evidence_id, evidence_at, entry_order). Params: none.
with

final as (
    select lead_id, stage, stage_rank, entered_at, reason, is_side, evidence_type, evidence_id, evidence_at,
           entry_order,
           case when entered_at is not null then
               lead(entered_at) over (partition by lead_id order by entered_at asc nulls last, entry_order asc)
           end as next_at
    from {entries}
)

select * from final
