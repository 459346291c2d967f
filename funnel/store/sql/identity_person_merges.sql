-- identity_person_merges: one step of joining people without a leads table: a node linked as the same
-- user, alias or person to a node with a smaller label takes that label. Reads the build's temp tables
-- _labels and _edges. Empty when every linked group shares one label.
-- Grain: one row per node whose label gets smaller. Columns: node, label.
-- Params: none.
with

smaller as (
    select l.node, min(o.label) as label
    from _labels l
    join _edges e on e.a = l.node and e.via in ('user', 'alias', 'person')
    join _labels o on o.node = e.b
    group by l.node
),

final as (
    select s.node, s.label
    from smaller s
    join _labels l using (node)
    where s.label < l.label
)

select * from final
