-- identity_matches: per import and table of person rows, how many rows joined a lead by each key and
-- how many did not (people matching no lead, anonymous ids never linked to a person).
-- grain: one row per active import and table. parameters: none.
with person_rows as (
    select _import_id, 'activities' as table_name, lead_id from raw.activities
    union all select _import_id, 'stage_events', lead_id from raw.stage_events
    union all select _import_id, 'deals', lead_id from raw.deals where lead_id is not null
),

counted as (
    select p._import_id, p.table_name, count(*) as rows,
           count(*) filter (where m.matched_by = 'lead_id') as by_lead_id,
           count(*) filter (where m.matched_by = 'email') as by_email,
           count(*) filter (where m.matched_by = 'alias') as by_alias,
           count(*) filter (where m.matched_by = 'device') as by_device,
           count(*) filter (where m.lead_id is null and not m.anonymous) as unmatched_rows,
           count(distinct p.lead_id) filter (where m.lead_id is null and not m.anonymous) as unmatched_people,
           count(*) filter (where m.lead_id is null and m.anonymous) as anonymous_rows,
           count(distinct p.lead_id) filter (where m.lead_id is null and m.anonymous) as anonymous_ids
    from person_rows p
    join main.identity_map m on m.tool_id = p.lead_id
    group by 1, 2
),

final as (
    select i.import_id, i.file_name, c.table_name, c.rows,
           c.rows - c.unmatched_rows - c.anonymous_rows as matched_rows,
           c.by_lead_id, c.by_email, c.by_alias, c.by_device,
           c.unmatched_rows, c.unmatched_people, c.anonymous_rows, c.anonymous_ids
    from main.imports i
    join counted c on c._import_id = i.import_id
    where i.removed_at is null
)

select * from final
