-- The verdicts of one handoff review sample as they stand: each reviewer's latest verdict per lead and
-- question (an earlier verdict that was changed stays in the table as history).
-- Grain: one row per (lead_id, reviewer, question). Columns: lead_id, reviewer, question, judged_right,
-- reason, recorded_at, changes (how many verdicts that reviewer gave on it). Params: $sample.
with

given as (
    select *
    from review_verdicts
    where sample_id = $sample
),

ranked as (
    select *,
           row_number() over (partition by lead_id, reviewer, question order by recorded_at desc, verdict_id desc) as newest,
           count(*) over (partition by lead_id, reviewer, question) as changes
    from given
),

final as (
    select lead_id, reviewer, question, judged_right, reason, recorded_at, changes
    from ranked
    where newest = 1
)

select * from final
