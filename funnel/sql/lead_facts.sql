-- What every analysis needs to know about each lead: when it was created and its current CRM stage.
-- Grain: lead_id (the store keeps one row per lead id). Columns: lead_id, created_at, lifecycle_stage.
with

final as (
    select lead_id, created_at, lifecycle_stage
    from leads
    where lead_id is not null
)

select * from final
