-- The newest active import of the same file into the same table with the same mapping (an import
-- that would change nothing is reported as unchanged instead of written again).
-- Grain: import_id (at most one row). Columns: import_id.
-- Relations: {imports} (the bookkeeping table of imports). Params: $sha (the file's sha256), $t
-- (the table it feeds), $m (the mapping's name, '' for none).
with

final as (
    select import_id
    from {imports}
    where sha256 = $sha and table_name = $t and removed_at is null and coalesce(mapping, '') = $m
)

select * from final
order by import_id desc
limit 1
