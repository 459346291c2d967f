-- The days of a hygiene report, each with the first moment after it (what happened before that moment
-- happened "at D").
-- Grain: as_of (one row per day of $as_of_days). Columns: as_of, until.
-- Params: $as_of_days (the days D, distinct).
with

listed as (
    select unnest($as_of_days) as as_of
),

final as (
    select as_of, cast(as_of as timestamp) + interval 1 day as until
    from listed
)

select * from final
