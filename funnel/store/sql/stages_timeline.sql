-- Every lead's time line for the funnel stage engine (funnel/model/stages.py): its activities, recycles
-- and milestones in one stream, sorted by lead and time. This sort is the engine's one heavy scan;
-- the rules are then applied by O(n) passes over the sorted stream.
-- Grain: one row per activity, recycle or milestone. Columns: lead_id, t, kind (0 activity,
-- 1 milestone, 2 recycle), code (activities: 1-based position of the type in $types, 0 when not
-- listed; milestones: their stage rank; recycles: 0), ref (milestones and recycles: their row in
-- {milestones} / {recycles}), evidence_id (activities: activity_id).
-- Relations: {milestones} (stages_milestones.sql), {recycles} (stages_recycles.sql).
-- Params: $until (the first moment after day D), $types (the activity types present), $ignored
-- (types that are neither meaningful engagement nor named by a rule: they cannot move a lead).
-- Fragment: @lead_filter (limits the leads to $lead_ids, or empty). tie: for the order only.
-- Order within a lead: time; at one moment activities, then milestones, then recycles (evidence at a
-- recycle's exact moment applies before it); then by type (code; milestones by rank and evidence type)
-- and id, so the order never depends on how the rows were stored.
with

activity_rows as (
    select lead_id, occurred_at as t, 0 as kind,
           coalesce(list_position($types, activity_type), 0) as code,
           cast(null as bigint) as ref, activity_id as evidence_id, cast(null as varchar) as tie
    from activities
    where occurred_at < $until and lead_id is not null
      and not list_contains($ignored, activity_type) /*@lead_filter*/
),

milestone_rows as (
    select lead_id, t, 1 as kind, stage_rank as code, ref, evidence_id, evidence_type as tie
    from {milestones}
),

recycle_rows as (
    select lead_id, t, 2 as kind, 0 as code, ref, evidence_id, evidence_type as tie
    from {recycles}
),

stream as (
    select * from activity_rows
    union all select * from milestone_rows
    union all select * from recycle_rows
),

final as (
    select lead_id, t, cast(kind as tinyint) as kind, cast(code as smallint) as code, ref, evidence_id, tie
    from stream
)

select * exclude (tie) from final
order by lead_id, t, kind, code, tie, evidence_id, ref
