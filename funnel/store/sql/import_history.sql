-- The import history: every file imported, newest first (removed imports included).
-- Grain: import_id. Columns: import_id, file_name, table_name, format, rows, added, updated,
-- unchanged, derived, mapping, imported_at, imported_by, removed_at, removed_by, sha256.
-- Relations: {imports} (the bookkeeping table of imports). Params: none.
with

final as (
    select import_id, file_name, table_name, format, rows, added, updated, unchanged, derived, mapping,
           imported_at, imported_by, removed_at, removed_by, sha256
    from {imports}
)

select * from final
order by import_id desc
