-- One lead's activities in the intent lookback, for the explanation of its intent score.
-- Grain: one row per activity of the lead. Columns: activity_id, activity_type, occurred_at, url,
-- age_days (days from the activity's day to D).
-- Params: $lead (the lead id), $until (the first moment after day D), $since (the first day of the
-- lookback), $as_of (D).
with

final as (
    select activity_id, activity_type, occurred_at, url,
           date_diff('day', cast(occurred_at as date), $as_of) as age_days
    from activities
    where lead_id = $lead and occurred_at < $until and occurred_at >= $since
)

select * from final
