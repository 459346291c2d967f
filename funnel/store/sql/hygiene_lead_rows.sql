-- The rows of leads the hygiene checks read, one per lead id: a lead id with several rows is read in its
-- earliest (undated first), the row that is there on every day any of them is. Read once for every day of
-- a report (hygiene_population.sql takes each day's from it).
-- Grain: lead_id. Columns: lead_id, created_at, email, name, account_id, owner, lifecycle_stage, lead_status,
-- last_engagement_at, next_action_at.
-- Params: none.
with

final as (
    select lead_id, created_at, email, name, account_id, owner, lifecycle_stage, lead_status, last_engagement_at,
           next_action_at
    from leads
    where lead_id is not null
    qualify row_number() over (partition by lead_id order by created_at asc nulls first) = 1
)

select * from final
