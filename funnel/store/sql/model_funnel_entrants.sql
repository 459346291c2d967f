-- The leads that entered one of the given funnel stages after day C (if given) and by the end of day D, from
-- the stored entries (funnel/model/materialised.py), as funnel_entrants (funnel/model/stages.py) takes them
-- from the history: an entry's day after C, its moment before the first moment after D.
-- Grain: lead_id. Columns: lead_id.
-- Params: $stages (stage names), $since (the first moment after day C; null: no lower bound), $until (the first moment after day D).
with

final as (
    select distinct lead_id
    from model_funnel_entries
    where list_contains($stages, stage) and ($since is null or entered_at >= $since) and entered_at < $until
)

select * from final
