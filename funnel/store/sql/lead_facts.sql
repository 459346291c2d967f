-- What every analysis needs to know about each lead: when it was created and its current CRM stage.
-- Grain: lead_id (the store keeps one row per lead id). Columns: lead_id, created_at,
-- lifecycle_rank (the place of leads.lifecycle_stage among $stages, 0-based; null when the value
-- names none of them).
-- Params: $stages (the lifecycle ladder's main stages in order, then its side states).
with

final as (
    select lead_id, created_at, cast(list_position($stages, lifecycle_stage) - 1 as integer) as lifecycle_rank
    from leads
    where lead_id is not null
)

select * from final
