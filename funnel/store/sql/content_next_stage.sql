-- Content followed by the next stage (Routing page, funnel/analyses/routing.py).
-- Grain: funnel stage × content activity type. Columns: stage, stage_rank, activity_type, leads
-- (stays at the stage with a view of that type), advanced (the next entry was a higher main stage
-- within $window days of the first such view), decided (advanced, or $window days passed by $as_of),
-- median_days and p80_days (first view to the next stage, advanced stays only).
-- Fragment: @first_views (each stay's first view of each content type by the end of D:
-- content_first_views.sql, or the lead model's stored run of it cut at D, model_content_views.sql).
-- Params: $as_of, $window, and those of the first views.
with

first_views as (
/*@first_views*/
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
