-- Grain: one row per lead of {lead_ids} that is stored (the row of its latest import, as hygiene_people.sql
-- reads it), with last_activity_at: the later of its latest activity and its last_engagement_at (the
-- most_recent_activity survivor rule of merge suggestions reads it).
-- Relations: {lead_ids} (a registered frame with the column lead_id), {leads}, {activities}. Params: none.
with

wanted as (
    select distinct lead_id
    from {lead_ids}
),

leads as (
    select l.lead_id, l.last_engagement_at
    from {leads} as l
    join wanted as w on w.lead_id = l.lead_id
    qualify row_number() over (partition by l.lead_id order by l._import_id desc) = 1
),

last_touch as (
    select a.lead_id, max(a.occurred_at) as last_activity_at
    from {activities} as a
    join wanted as w on w.lead_id = a.lead_id
    group by a.lead_id
),

final as (
    select l.lead_id, greatest(t.last_activity_at, l.last_engagement_at) as last_activity_at
    from leads as l
    left join last_touch as t on t.lead_id = l.lead_id
)

select * from final
