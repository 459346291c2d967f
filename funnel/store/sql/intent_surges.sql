-- Account surges reaching leads: the newest surge signal in the lookback for the lead's account,
-- matched by account id or by the account's domain (trimmed, any case).
-- Grain: lead_id (leads with a surge only). Columns: lead_id, surge_at, surge_signals, surge_topics
-- (each surging topic with its vendor score, comma-separated).
-- Params: $until (the first moment after day D), $since (the first day of the lookback), $lead_ids
-- (only when limited). Fragment: @lead_filter (limits the leads to $lead_ids, or empty).
with

surges as (
    select lower(trim(account_id)) as account_key, max(observed_at) as observed_at, count(*) as signals,
           string_agg(distinct topic || coalesce(' ' || cast(round(score) as bigint), ''), ', '
                      order by topic || coalesce(' ' || cast(round(score) as bigint), '')) as topics
    from intent_signals
    where surge and observed_at < $until and observed_at >= $since and account_id is not null
    group by 1
),

final as (
    select l.lead_id, max(s.observed_at) as surge_at, sum(s.signals) as surge_signals,
           string_agg(s.topics, ', ' order by s.topics) as surge_topics
    from leads as l
    left join accounts as a on a.account_id = l.account_id
    join surges as s on s.account_key = lower(trim(l.account_id)) or s.account_key = lower(trim(a.domain))
    where l.lead_id is not null/*@lead_filter*/
    group by 1
)

select * from final
