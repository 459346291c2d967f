-- The leads a hygiene check looks at: those created at or before the end of day D, or undated.
-- Grain: lead_id (one row per lead id). Columns: every leads column. Params: $until (the first
-- moment after day D).
with

final as (
    select *
    from leads
    where lead_id is not null
      and (created_at is null or created_at < $until)
    qualify row_number() over (partition by lead_id) = 1
)

select * from final
