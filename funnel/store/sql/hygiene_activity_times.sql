-- The activities the no-engagement check reads (hygiene_no_engagement.sql), read from the activities: each
-- activity of a lead with its type and moment.
-- Grain: one row per activity with a lead. Columns: lead_id, activity_type, occurred_at.
-- Relations: {activities}.
-- Params: none.
with

final as (
    select lead_id, activity_type, occurred_at
    from {activities}
    where lead_id is not null
)

select * from final
