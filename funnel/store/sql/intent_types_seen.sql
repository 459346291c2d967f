-- Which activity types each lead showed in the lookback before a cutoff (how well intent predicted).
-- Grain: lead_id × activity_type. Columns: lead_id, activity_type.
-- Params: $until (the first moment after the cutoff day), $since (the first day of the lookback).
with

final as (
    select distinct lead_id, activity_type
    from activities
    where occurred_at < $until and occurred_at >= $since and lead_id is not null
)

select * from final
