-- identity_intent_signals: intent rows (Bombora, 6sense, Demandbase) on the account they name, by
-- normalised domain first, then account id; a row naming no known account keeps its own value.
-- A row without a surge flag surges when its score reaches $surge_score.
-- Grain: one row per account, topic and observation. Params: $surge_score.
with domains as (
    select regexp_extract(lower(trim(domain)), '^(?:https?://)?(?:www\.)?([^/:?#\s]+)', 1) as norm_domain,
           min(account_id) as account_id
    from main.accounts
    where domain is not null
    group by 1
),

signals as (
    select s.*, regexp_extract(lower(trim(s.account_id)), '^(?:https?://)?(?:www\.)?([^/:?#\s]+)', 1) as key
    from raw.intent_signals s
),

final as (
    select s.* exclude (key) replace (coalesce(d.account_id, s.account_id) as account_id,
                                     coalesce(s.surge, s.score >= $surge_score) as surge)
    from signals s
    left join domains d on d.norm_domain = s.key and d.norm_domain <> ''
    qualify row_number() over (partition by coalesce(d.account_id, s.account_id), s.topic, s.observed_at
                               order by s._import_id desc, s._source_row) = 1
)

select * from final
