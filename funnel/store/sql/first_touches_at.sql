-- Grain: one row per lead in the lead model's first touches (first_touches.sql to the horizon): its
-- first campaign and first page as of day D (null when recorded on or after $until).
-- Relations: {first_touches}.
-- Params: $until (the first moment after day D).
with

final as (
    select lead_id,
           case when campaign_at < $until then campaign end as campaign,
           case when url_at < $until then url end as url
    from {first_touches}
)

select * from final
