-- The days on which an intent-vendor surge was observed for each lead's account (by account id or by
-- the account's domain, trimmed, any case), as intent_surges.sql matches them; intent counts a surge
-- once when any of its days falls in the lookback.
-- Grain: lead_id × day (leads with a surge only). Columns: lead_id, day.
-- Params: $since (the first day of the window), $until (the first moment after it), $lead_ids (only
-- when limited). Fragment: @lead_filter (limits the leads to $lead_ids, or empty).
with

surges as (
    select distinct lower(trim(account_id)) as account_key, cast(observed_at as date) as day
    from intent_signals
    where surge and observed_at < $until and observed_at >= $since and account_id is not null
),

final as (
    select distinct l.lead_id, s.day
    from leads as l
    left join accounts as a on a.account_id = l.account_id
    join surges as s on s.account_key = lower(trim(l.account_id)) or s.account_key = lower(trim(a.domain))
    where l.lead_id is not null/*@lead_filter*/
)

select * from final
