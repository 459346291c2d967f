-- Each lead's funnel stage at each day of a hygiene report as the caller computed it (the stage engine's
-- history from the tables, when the lead model holds no run for the settings).
-- Grain: (as_of, lead_id). Columns: as_of, lead_id, funnel_stage.
-- Relations: {given} (a frame with those columns). Params: none.
with

final as (
    select as_of, lead_id, funnel_stage
    from {given}
)

select * from final
