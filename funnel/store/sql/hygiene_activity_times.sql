-- The activities the no-engagement check reads (hygiene_no_engagement.sql), read from the activities: each
-- activity's lead, type and moment (the check keeps those with a lead).
-- Grain: one row per activity. Columns: lead_id, activity_type, occurred_at.
-- Relations: {activities}.
-- Params: none.
with

final as (
    select lead_id, activity_type, occurred_at
    from {activities}
)

select * from final
