-- The leads at each day D (created by the end of D, or undated): every hygiene share's denominator.
-- Grain: as_of (one row per day of $as_of_days). Columns: as_of, leads.
-- Fragments: @days (the text of hygiene_days.sql).
-- Params: $as_of_days (see hygiene_days.sql).
with

days as (
/*@days*/
),

final as (
    select d.as_of, count(distinct l.lead_id) as leads
    from days as d
    left join leads as l on l.created_at is null or l.created_at < d.until
    group by d.as_of
)

select * from final
