-- Grain: one row per lead (its latest stored row) created by D or undated, with what a page's
-- numbers need of it: created_at, and whether it has an owner, an industry and a size (employees),
-- as capture_leads.sql reads them (the lead's value, else its account's).
-- Fragment: @capture_leads (the text of capture_leads.sql).
-- Params: $until (the first moment after day D).
with

captured as (
/*@capture_leads*/
),

final as (
    select lead_id, created_at, owner, industry, employees
    from captured
)

select * from final
