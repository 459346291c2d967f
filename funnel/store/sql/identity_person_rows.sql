-- identity_person_rows: the imported rows of raw.{source} (stage entries or activities) on their lead by the
-- identity map; rows of people who are not leads are left out. Stage entries the same lead holds twice
-- (from two tools) count once: the newest import's row.
-- Grain: one row of raw.{source} per resolved row ({source}: stage_events or activities). Params: none. Fragment: @dedupe (the stage-entry qualify,
-- or empty for activities).
with

final as (
    select r.* replace (m.lead_id as lead_id)
    from raw.{source} r
    join main.identity_map m on m.tool_id = r.lead_id
    where m.lead_id is not null
    /*@dedupe*/
)

select * from final
