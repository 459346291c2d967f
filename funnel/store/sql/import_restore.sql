-- Statement: the versions an import replaced, put back into the canonical table when it is removed
-- (only for keys the import still holds, listed in the temp table _keys).
-- Grain: one row per history row superseded by the import. Columns: those of {target}.
-- Relations: {target} (the canonical table), {history} (its history). Params: $id (the import
-- being removed). Fragments: @columns (the target's columns, quoted), @keys (its key columns, quoted).
insert into {target}
with

final as (
    select /*@columns*/
    from {history}
    where _superseded_by = $id and (/*@keys*/) in (select (/*@keys*/) from _keys)
)

select * from final
