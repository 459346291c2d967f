-- The lead details a handoff reviewer reads next to each sampled lead.
-- Grain: one row per lead_id (the first row of the leads table for a repeated id). Columns: lead_id,
-- name, email, company, title, owner, source, lead_status, next_action_at. Params: none.
with

leads_once as (
    select *
    from leads
    where lead_id is not null
    qualify row_number() over (partition by lead_id order by created_at nulls last) = 1
),

final as (
    select lead_id, name, email, company, title, owner, source, lead_status, next_action_at
    from leads_once
)

select * from final
