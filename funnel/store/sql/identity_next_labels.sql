-- identity_next_labels: one hop of the identity build: ids not joined yet take the lead of the ids they
-- are linked to; an id linked to several leads takes the best-ranked one (its candidates are listed).
-- Reads the build's temp tables _edges, _labels and _rank.
-- Grain: one row per node joined in this hop. Columns: node, label, matched_by, candidates, via.
-- Params: none.
with

final as (
    select e.a as node, arg_min(l.label, r.rank) as label,
           case when bool_or(e.via = 'device') and not bool_or(e.via <> 'device') then 'device'
                else 'alias' end as matched_by,
           list(distinct l.label order by l.label) as candidates,
           arg_min(e.via, r.rank) as via
    from _edges e
    join _labels l on l.node = e.b
    join _rank r on r.label = l.label
    where not exists (select 1 from _labels x where x.node = e.a)
    group by e.a
)

select * from final
