-- Each stay at a funnel stage with its first view of each content type (content_next_stage.sql counts them).
-- A stay's first view is causal: the first view of a stay before D is its first view overall when that came
-- before D, and the stay's next entry at D is its next entry overall when that came before D. So the lead model
-- keeps one run to its horizon (model_content_views) and model_content_views.sql cuts it at D.
-- Grain: one row per stay (funnel entry) and content type viewed during it, before $until. Columns: lead_id,
-- stage, stage_rank, entered_at, next_at, next_rank, next_side (the stay's next entry, as funnel_spans.sql
-- gives it; null while the stay is open), activity_type, viewed_at (the stay's first view of that type).
-- Fragment: @spans (the text of funnel_spans.sql: one row per stay with lead_id, stage, stage_rank,
-- entered_at, next_at, next_rank, next_side).
-- Params: $until (the first moment after the last day read), $types (the content types), and the spans'.
with

spans as (
/*@spans*/
),

-- materialized: resolved to leads first, then joined by lead (else DuckDB may join every view to every stay
-- by time before matching the lead: seconds on 3,000 leads)
content as materialized (
    select lead_id, activity_type, occurred_at
    from activities
    where lead_id is not null and occurred_at < $until and list_contains($types, activity_type)
),

final as (
    select s.lead_id, s.stage, s.stage_rank, s.entered_at, s.next_at, s.next_rank, s.next_side,
           c.activity_type, min(c.occurred_at) as viewed_at
    from spans as s
    join content as c
      on c.lead_id = s.lead_id and c.occurred_at >= s.entered_at
     and (s.next_at is null or c.occurred_at < s.next_at)
    group by all
)

select * from final
