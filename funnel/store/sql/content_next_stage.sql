-- Content followed by the next stage (Routing page, funnel/analyses/routing.py).
-- Grain: funnel stage × content activity type. Columns: stage, stage_rank, activity_type, leads
-- (stays at the stage with a view of that type), advanced (the next entry was a higher main stage
-- within $window days of the first such view), decided (advanced, or $window days passed by $as_of),
-- median_days and p80_days (first view to the next stage, advanced stays only).
-- Fragment: @spans (the text of funnel_spans.sql: one row per stay at a stage with lead_id, stage,
-- stage_rank, entered_at, next_at, next_rank, next_side).
-- Params: $until (first moment after D), $as_of, $window, $types (content types).
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

first_views as (
    select s.lead_id, s.stage, s.stage_rank, s.entered_at, s.next_at, s.next_rank, s.next_side,
           c.activity_type, min(c.occurred_at) as viewed_at
    from spans as s
    join content as c
      on c.lead_id = s.lead_id and c.occurred_at >= s.entered_at
     and (s.next_at is null or c.occurred_at < s.next_at)
    group by all
),

judged as (
    select *,
           date_diff('day', cast(viewed_at as date), cast(next_at as date)) as days_to_next,
           coalesce(next_rank > stage_rank and not next_side
                    and date_diff('day', cast(viewed_at as date), cast(next_at as date)) <= $window, false) as advanced
    from first_views
),

final as (
    select stage, stage_rank, activity_type,
           count(*) as leads,
           count(*) filter (where advanced) as advanced,
           count(*) filter (where advanced or date_diff('day', cast(viewed_at as date), $as_of) > $window) as decided,
           median(days_to_next) filter (where advanced) as median_days,
           quantile_cont(days_to_next, 0.8) filter (where advanced) as p80_days
    from judged
    group by stage, stage_rank, activity_type
)

select * from final order by stage_rank, activity_type
