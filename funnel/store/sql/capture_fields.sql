-- Grain: one row per lead (its latest stored row) with its entry point and whether each
-- segmentation field is filled (lead value, else its account's), its created_at, title text and
-- attributes (a list of {key, value}), and whether it reached `$stage`.
-- Relations: {stage_events}.
-- Fragments: @capture_leads (the text of capture_leads.sql: the leads' rows and field flags), @first_touch
-- (each lead's first campaign and page as of D: first_touches.sql on the activities, or first_touches_at.sql
-- on the lead model's copy).
-- Params: $stage (the stage whose logged entry counts as converted), $until (the first moment after day D).
with

captured as (
/*@capture_leads*/
),

first_touch as (
/*@first_touch*/
),

reached as (
    select distinct lead_id
    from {stage_events}
    where stage = $stage and entered_at < $until
),

final as (
    select c.lead_id, c.source, f.campaign, f.url, c.title, c.phone, c.company, c.industry, c.employees,
           c.country, c.owner, c.created_at, c.title_text, c.attributes,
           r.lead_id is not null as converted
    from captured as c
    left join first_touch as f on f.lead_id = c.lead_id
    left join reached as r on r.lead_id = c.lead_id
)

select * from final
