-- The URLs of the activities that put leads in their funnel stage (the report's evidence text).
-- Grain: one row per activity row whose id is among {evidence_ids}. Columns: activity_id, url.
-- Relations: {evidence_ids} (a registered frame with the column activity_id). Params: none.
with

final as (
    select a.activity_id, a.url
    from activities as a
    join {evidence_ids} as e on e.activity_id = a.activity_id
)

select * from final
