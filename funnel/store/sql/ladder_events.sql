-- Stage events of one ladder, reduced to what a stage history needs.
-- Grain: one row per stage_events row of the ladder. Columns: lead_id, stage_rank (0-based
-- place among $stages, null when the ladder does not name the stage), entered_at, reason, in_view
-- (on the ladder and at or before the end of day D: the rows a history as of D is built from).
-- Params: $ladder (rows whose ladder is empty count as lifecycle), $stages (main stages in order,
-- then side states), $until (the first moment after day D).
-- Rows outside the view are kept so a lead the log mentions is never placed from its current stage.
with

on_ladder as (
    select lead_id, stage, entered_at, reason
    from stage_events
    where coalesce(ladder, 'lifecycle') = $ladder
      and lead_id is not null
),

final as (
    select lead_id, cast(list_position($stages, stage) - 1 as integer) as stage_rank, entered_at,
           reason, list_position($stages, stage) is not null and entered_at < $until as in_view
    from on_ladder
)

select * from final
