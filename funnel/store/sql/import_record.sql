-- Statement: the audit row of one import, added to the import history.
-- Grain: one row (the import). Columns: those of {imports}, in order (rejected is 0, removed_at null).
-- Relations: {imports} (the bookkeeping table of imports).
-- Params: $id, $file, $sha, $table, $format, $rows, $added, $updated, $unchanged, $derived, $mapping,
-- $warnings, $at (when it was imported).
insert into {imports}
with

final as (
    select $id, $file, $sha, $table, $format, $rows, $added, $updated, $unchanged, 0, $derived, $mapping,
           $warnings, $at, null
)

select * from final
