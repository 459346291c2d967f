-- Each lead's lifecycle stage at the end of each day D: the stage of its last lifecycle entry by then (read
-- once for the no_engagement and no_next_action checks of every day).
-- The ladder is read once, as of the latest day ($until the first moment after it): lifecycle_entries.sql
-- is causal, so a lead's entries as of an earlier day D are those of its entries entered by the end of D
-- or undated (the first ones in ladder order; a repeat dropped later was dropped as of D too).
-- Grain: (as_of, lead_id), the leads with an entry by D. Columns: as_of, lead_id, stage.
-- Fragments: @days (the text of hygiene_days.sql), @lifecycle_entries (the text of lifecycle_entries.sql).
-- Params: $as_of_days (see hygiene_days.sql), those of lifecycle_entries.sql ($ladder, $stages, $until: the
-- first moment after the latest of the days).
with

days as (
/*@days*/
),

entries as (
/*@lifecycle_entries*/
),

final as (
    select d.as_of, e.lead_id, list_extract($stages, arg_max(e.stage_rank, e.seq) + 1) as stage
    from entries as e
    join days as d on e.entered_at is null or e.entered_at < d.until
    group by d.as_of, e.lead_id
)

select * from final
