-- identity_person_matched: the joined people without a leads table, each node with how it joined its
-- person: its own id, the person's e-mail, or a recorded alias. Reads the build's temp tables _labels
-- and _nodes.
-- Grain: one row per labelled node. Columns: node, label, matched_by.
-- Params: none.
with

final as (
    select l.node, l.label,
           case when l.label = l.node then 'lead_id'
                when n.email is not null and n.email = p.email then 'email'
                else 'alias' end as matched_by
    from _labels l
    join _nodes n on n.node = l.node
    join _nodes p on p.node = l.label
)

select * from final
