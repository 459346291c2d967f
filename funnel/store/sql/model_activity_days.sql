-- The activities the no-engagement check reads (hygiene_no_engagement.sql), read from the lead model's stored
-- activity days (model_intent_days: every activity of a lead, counted by type and day) instead of the activities:
-- one row per lead, type and day, at the start of that day. The check reads only the day of the last engagement
-- (it counts whole days, and a day ends at midnight), so a day's start stands for each of its activities.
-- Grain: lead_id × activity_type × day. Columns: lead_id, activity_type, occurred_at (the day at 00:00).
-- Relations: {intent_days}.
-- Params: none.
with

final as (
    select lead_id, activity_type, cast(day as timestamp) as occurred_at
    from {intent_days}
)

select * from final
