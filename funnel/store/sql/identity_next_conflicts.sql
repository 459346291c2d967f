-- identity_next_conflicts: the ids of one hop that were linked to several leads (a device used by
-- several people, an id aliased to several leads), with the lead the rule chose. Reads the hop's temp
-- table _next.
-- Grain: one row per contested node. Columns: kind, key, candidates, chosen, rule.
-- Params: $rule (the conflict rule in words).
with

final as (
    select case when via = 'device' then 'one device used by several leads'
                else 'one id linked to several leads' end as kind,
           node as key, candidates, label as chosen, $rule as rule
    from _next
    where len(candidates) > 1
)

select * from final
