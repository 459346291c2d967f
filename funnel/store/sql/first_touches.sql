-- Grain: one row per lead with an activity dated before $until that carries a campaign or a page: the
-- first campaign and the first page (url) its activities record, each with when it was recorded
-- (campaign_at, url_at; null when none is).
-- "First" is the earliest activity that carries one; activities at the same moment are taken in
-- activity_id order, so the choice never depends on the order rows are read in. The pick is causal:
-- the first campaign before D is the first campaign overall when that came before D, so the lead model
-- keeps one run to its horizon (model_first_touches) and a day D reads it through first_touches_at.sql.
-- Relations: {activities}.
-- Params: $until (the first moment after the last day read).
with

final as (
    select lead_id,
           min(case when campaign is not null then occurred_at end) as campaign_at,
           arg_min(campaign, (occurred_at, activity_id)) as campaign,
           min(case when url is not null then occurred_at end) as url_at,
           arg_min(url, (occurred_at, activity_id)) as url
    from {activities}
    where lead_id is not null and occurred_at < $until and (campaign is not null or url is not null)
    group by lead_id
)

select * from final
