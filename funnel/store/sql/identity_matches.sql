-- identity_matches: per import and table of person rows, how many rows joined a lead by each key and
-- how many did not (people matching no lead, anonymous ids never linked to a person).
-- Grain: one row per active import and table. Params: none.
with person_rows as (  -- rows per import, table and person id (counted before the join: far fewer rows)
    select _import_id, 'activities' as table_name, lead_id, count(*) as n from raw.activities group by all
    union all
    select _import_id, 'stage_events', lead_id, count(*) from raw.stage_events group by all
    union all
    select _import_id, 'deals', lead_id, count(*) from raw.deals where lead_id is not null group by all
),

counted as (
    select p._import_id, p.table_name, sum(p.n) as rows,
           coalesce(sum(p.n) filter (where m.matched_by = 'lead_id'), 0) as by_lead_id,
           coalesce(sum(p.n) filter (where m.matched_by = 'email'), 0) as by_email,
           coalesce(sum(p.n) filter (where m.matched_by = 'alias'), 0) as by_alias,
           coalesce(sum(p.n) filter (where m.matched_by = 'device'), 0) as by_device,
           coalesce(sum(p.n) filter (where m.matched_by = 'name'), 0) as by_name,
           coalesce(sum(p.n) filter (where m.lead_id is null and not m.anonymous), 0) as unmatched_rows,
           count(*) filter (where m.lead_id is null and not m.anonymous) as unmatched_people,
           coalesce(sum(p.n) filter (where m.lead_id is null and m.anonymous), 0) as anonymous_rows,
           count(*) filter (where m.lead_id is null and m.anonymous) as anonymous_ids
    from person_rows p
    join main.identity_map m on m.tool_id = p.lead_id
    group by 1, 2
),

final as (
    select i.import_id, i.file_name, c.table_name, c.rows::BIGINT as rows,
           (c.rows - c.unmatched_rows - c.anonymous_rows)::BIGINT as matched_rows,
           c.by_lead_id::BIGINT as by_lead_id, c.by_email::BIGINT as by_email, c.by_alias::BIGINT as by_alias,
           c.by_device::BIGINT as by_device, c.by_name::BIGINT as by_name, c.unmatched_rows::BIGINT as unmatched_rows, c.unmatched_people,
           c.anonymous_rows::BIGINT as anonymous_rows, c.anonymous_ids
    from main.imports i
    join counted c on c._import_id = i.import_id
    where i.removed_at is null
)

select * from final
