-- The leads a hygiene check looks at on each day D: those created at or before the end of D, or undated.
-- Grain: (as_of, lead_id): one row per day and lead. Columns: as_of (the day D), until (the first moment
-- after it), then those of hygiene_lead_rows.sql.
-- Relations: {lead_rows} (hygiene_lead_rows.sql, read once). Fragments: @days (the text of hygiene_days.sql).
-- Params: $as_of_days (see hygiene_days.sql).
with

days as (
/*@days*/
),

final as (
    select d.as_of, d.until, l.*
    from {lead_rows} as l
    join days as d on l.created_at is null or l.created_at < d.until
)

select * from final
