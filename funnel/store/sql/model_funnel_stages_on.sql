-- Each lead's funnel stage at the end of each day D from the stored entries (funnel/model/materialised.py),
-- as model_funnel_stages.sql takes it for one day: the latest entry at or before D, entries at one moment
-- taken in entry order. An entry is the stage at D when it was entered by the end of D and the lead's next
-- entry (next_at, stored with it: see model_entries_next.sql), if any, after it.
-- Grain: (as_of, lead_id), the leads with an entry by D. Columns: as_of, lead_id, funnel_stage.
-- Fragments: @days (the text of hygiene_days.sql).
-- Params: $as_of_days (see hygiene_days.sql).
with

days as (
/*@days*/
),

ordered as (
    select lead_id, stage, entered_at, next_at
    from model_funnel_entries
    where entered_at < (select max(until) from days)
),

final as (
    select d.as_of, o.lead_id, o.stage as funnel_stage
    from ordered as o
    join days as d on o.entered_at < d.until and (o.next_at is null or o.next_at >= d.until)
)

select * from final
