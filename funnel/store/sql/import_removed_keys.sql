-- Statement: the keys of the rows an import wrote to a table, kept in the temp table _keys while the
-- import is taken back out.
-- Grain: one row per row of {target} written by the import. Columns: the table's key columns.
-- Relations: {target} (the canonical table). Params: $id (the import being removed).
-- Fragment: @keys (the key columns, quoted, comma-separated).
create or replace temp table _keys as
with

final as (
    select /*@keys*/
    from {target}
    where _import_id = $id
)

select * from final
