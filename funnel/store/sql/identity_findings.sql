-- identity_findings: the hygiene rows of the identity model: people known to other tools but missing from
-- the CRM (only when a leads table is loaded) and identity conflicts. (A stage entry before its lead's creation
-- is the hygiene check impossible_sequence.)
-- Grain: one row per finding and key. Params: $intent_types (activity types that are intent evidence).
with leads_loaded as (
    select count(*) > 0 as loaded from raw.leads
),

missing as (
    select 'known to another tool, missing from the CRM' as finding, m.tool_id as key,
           coalesce(string_agg(distinct i.file_name, ', ' order by i.file_name), '') as detail,
           count(*) as rows,
           count(*) filter (where list_contains($intent_types, a.activity_type)) as intent_rows
    from main.identity_map m
    join raw.activities a on a.lead_id = m.tool_id
    left join main.imports i on i.import_id = a._import_id
    where m.lead_id is null and not m.anonymous and (select loaded from leads_loaded)
    group by m.tool_id
),

conflicts as (
    select kind as finding, key,
           'candidates ' || array_to_string(candidates, ', ') || '; chose ' || chosen || ' (' || rule || ')' as detail,
           1 as rows, 0 as intent_rows
    from main.identity_conflicts
),

final as (
    select * from missing
    union all select * from conflicts
)

select * from final order by finding, key
