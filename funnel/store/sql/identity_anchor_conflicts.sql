-- identity_anchor_conflicts: keys of the leads table naming several leads: an e-mail on several leads,
-- and a full name on several leads that some tool row uses. Reads the build's temp tables _lead_emails,
-- _lead_names and _nodes.
-- Grain: one row per contested key. Columns: kind, key, candidates, chosen, rule.
-- Params: $rule (the conflict rule in words).
with

emails as (
    select 'one e-mail on several leads' as kind, email as key, candidates, lead_id as chosen, $rule as rule
    from _lead_emails
    where leads > 1
),

names as (
    select 'one name on several leads' as kind, n.name as key, candidates, lead_id as chosen, $rule as rule
    from _lead_names n
    where leads > 1 and n.name in (select name from _nodes)
),

final as (
    select * from emails
    union all
    select * from names
)

select * from final
