-- Each lead's lifecycle stage at the end of D: the latest lifecycle stage event (at one moment, the
-- higher stage), else the lead's current lifecycle_stage when the log never mentions the lead.
-- Grain: lead_id. Columns: lead_id, lifecycle_stage.
-- Params: $names (the lifecycle ladder's main stages in order, then its side states), $until (the
-- first moment after day D).
with

logged as (
    select lead_id, arg_max(stage, (entered_at, list_position($names, stage))) as stage
    from stage_events
    where coalesce(ladder, 'lifecycle') = 'lifecycle' and lead_id is not null and entered_at < $until
      and list_contains($names, stage)
    group by 1
),

never_logged as (
    select l.lead_id, l.lifecycle_stage as stage
    from leads as l
    where l.lead_id is not null and list_contains($names, l.lifecycle_stage)
      and not exists (select 1 from stage_events as e
                      where e.lead_id = l.lead_id and coalesce(e.ladder, 'lifecycle') = 'lifecycle')
),

final as (
    select lead_id, stage as lifecycle_stage from logged
    union all select lead_id, stage from never_logged
)

select * from final
