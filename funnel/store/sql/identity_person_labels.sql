-- identity_person_labels: without a leads table every identified person is a lead: ids sharing an
-- e-mail start as one person, named by the smallest of their ids. Reads the build's temp table _nodes.
-- Grain: one row per identified (not anonymous) node. Columns: node, label, matched_by.
-- Params: none.
with

final as (
    select node, min(node) over (partition by coalesce(email, node)) as label, 'own id' as matched_by
    from _nodes
    where not anonymous
)

select * from final
