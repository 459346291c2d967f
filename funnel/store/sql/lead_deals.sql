-- Deals per lead as of D: how many closed, how many won, and the amount won.
-- Grain: lead_id (leads with at least one closed deal). Columns: lead_id, closed_deals, won_deals,
-- won_amount. A deal counts as closed when won is set and it closed (or, without a close date, was
-- created) at or before D; deals without a lead_id are not attributed to any lead.
-- Params: $until (the first moment after day D).
with

closed as (
    select lead_id, won, amount
    from deals
    where lead_id is not null
      and won is not null
      and (coalesce(closed_at, created_at) is null or coalesce(closed_at, created_at) < $until)
),

final as (
    select lead_id, count(*) as closed_deals, count(*) filter (where won) as won_deals,
           coalesce(sum(amount) filter (where won), 0) as won_amount
    from closed
    group by lead_id
)

select * from final
