-- Deals won in one calendar month, as the monthly review counts them.
-- Grain: one row. Columns: won_deals (deals with won = true that closed, or without a close date
-- were created, in [$from, $until)), won_amount (their summed amount; 0 when none), lead_won_deals
-- (of those, the deals that name a lead). Params: $from (first moment of the month), $until (the
-- first moment after the month's last day, or after D when D comes first).
with

won as (
    select lead_id, amount, coalesce(closed_at, created_at) as won_at
    from deals
    where won
),

in_month as (
    select * from won
    where won_at >= $from and won_at < $until
),

final as (
    select count(*) as won_deals,
           coalesce(sum(amount), 0)::double as won_amount,
           count(lead_id) as lead_won_deals
    from in_month
)

select * from final
