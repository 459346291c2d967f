-- The lifecycle ladder's entries as of D, for the reference (benchmarks/reference_metrics.sql): stage_events
-- rows on the ladder, and a lead the log never mentions placed from leads.lifecycle_stage at created_at.
-- Grain: one row per entry (repeats not yet dropped). Columns: lead_id, stage_rank, entered_at, placed,
-- tie (the order among entries at one timestamp), tie_reason.
-- Params: $stages (main stages, then side states), $until (the first moment after day D).
select lead_id, cast(list_position($stages, stage) - 1 as integer) as stage_rank, entered_at, false as placed,
       cast(list_position($stages, stage) - 1 as bigint) as tie, reason as tie_reason
from stage_events
where coalesce(ladder, 'lifecycle') = 'lifecycle' and lead_id is not null
  and list_position($stages, stage) is not null and entered_at < $until
union all
select l.lead_id, cast(list_position($stages, l.lifecycle_stage) - 1 as integer), l.created_at, true,
       cast(list_position($stages, l.lifecycle_stage) - 1 as bigint), cast(null as varchar)
from leads as l
anti join (
    select distinct lead_id
    from stage_events
    where coalesce(ladder, 'lifecycle') = 'lifecycle' and lead_id is not null
      and (list_position($stages, stage) is not null and entered_at < $until) is not null
) as m on l.lead_id = m.lead_id
where l.lead_id is not null and list_position($stages, l.lifecycle_stage) is not null
  and (l.created_at is null or l.created_at < $until)
