-- The stored surge days of the leads' accounts (funnel/model/materialised.py) in a lookback window:
-- the rows of surge_days.sql, kept once for all the data, read for the days from $since to $as_of.
-- Grain: lead_id × day. Columns: lead_id, day.
-- Params: $since (the first day of the window), $as_of (its last day, D), $lead_ids (only when
-- limited). Fragment: @lead_filter (limits the leads to $lead_ids, or empty).
with

final as (
    select lead_id, day
    from model_surge_days
    where day >= $since and day <= $as_of/*@lead_filter*/
)

select * from final
