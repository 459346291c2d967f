-- Deals without a creation date: left out of deals by their account (whether a deal existed at D, and its
-- cycle length, are counted from it).
-- Grain: one row. Columns: deals.
-- Params: none.
with

final as (
    select count(*) as deals
    from deals
    where deal_id is not null and created_at is null
)

select * from final
