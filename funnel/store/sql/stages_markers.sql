-- The milestones and recycles of the funnel stage engine as one relation, for the engine run per
-- group of leads (funnel/model/stages.py, Spark): a group's rows carry what its entries need
-- (stage rank, reason, evidence type) without a second pass over the store.
-- Grain: one row per milestone (kind 1) or recycle (kind 2). Columns: kind, lead_id, ref (the row's
-- number within its lead and kind, as in the time line), t, stage_rank (milestones), reason
-- (recycles), evidence_type, evidence_id.
-- Relations: {milestones} (stages_milestones.sql with ref), {recycles} (stages_recycles.sql with ref).
-- Params: none.
with

milestone_rows as (
    select 1 as kind, lead_id, ref, t, stage_rank, cast(null as varchar) as reason, evidence_type, evidence_id
    from {milestones}
),

recycle_rows as (
    select 2 as kind, lead_id, ref, t, cast(null as integer) as stage_rank, reason, evidence_type, evidence_id
    from {recycles}
),

final as (
    select cast(kind as tinyint) as kind, lead_id, cast(ref as bigint) as ref, t, stage_rank, reason,
           evidence_type, evidence_id
    from milestone_rows
    union all
    select cast(kind as tinyint) as kind, lead_id, cast(ref as bigint) as ref, t, stage_rank, reason,
           evidence_type, evidence_id
    from recycle_rows
)

select * from final
