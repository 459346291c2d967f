-- identity_map: every person id of the imported rows and the lead it joined, by which key.
-- Grain: one row per node (tool id). Params: none (reads the build's temp tables _nodes, _labels).
with final as (
    select n.node as tool_id, l.label as lead_id, coalesce(l.matched_by, 'none') as matched_by,
           n.anonymous and l.label is null as anonymous, n.email
    from _nodes n
    left join _labels l on l.node = n.node
)

select * from final
