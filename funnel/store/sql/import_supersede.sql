-- Statement: the stored rows an import replaces, copied to the table's history with the import that
-- superseded them.
-- Grain: one row per row id in the temp table _changed. Columns: those of {target}, then
-- _superseded_by.
-- Relations: {history} (the table's history), {target} (the canonical table).
-- Params: $import_id (the import that replaces them).
insert into {history}
with

final as (
    select t.*, $import_id
    from {target} as t
    where t.rowid in (select target_rowid from _changed)
)

select * from final
