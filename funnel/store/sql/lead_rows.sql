-- The leads table, one row per lead id (the store keeps one; any one if a store has more).
-- Grain: lead_id. Columns: every leads column. Params: none.
with

final as (
    select *
    from leads
    where lead_id is not null
    qualify row_number() over (partition by lead_id) = 1
)

select * from final
