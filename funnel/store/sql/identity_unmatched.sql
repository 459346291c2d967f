-- identity_unmatched: the rows behind "match no lead": each person id of an import that joined no lead.
-- Grain: one row per import, table and person id. Params: $import_id (null = every import).
with person_rows as (
    select _import_id, 'activities' as table_name, lead_id from raw.activities
    union all select _import_id, 'stage_events', lead_id from raw.stage_events
    union all select _import_id, 'deals', lead_id from raw.deals where lead_id is not null
),

final as (
    select p._import_id as import_id, i.file_name, p.table_name, p.lead_id as person_id, m.email, m.anonymous,
           count(*) as rows,
           case when m.anonymous then 'anonymous id, never linked to a person'
                else 'matches no lead by id, e-mail or alias' end as reason
    from person_rows p
    join main.identity_map m on m.tool_id = p.lead_id
    left join main.imports i on i.import_id = p._import_id
    where m.lead_id is null and i.removed_at is null and ($import_id is null or p._import_id = $import_id)
    group by all
    order by p._import_id, p.table_name, p.lead_id
)

select * from final
