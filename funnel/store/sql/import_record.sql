-- Statement: the audit row of one import, added to the import history.
-- Grain: one row (the import). Columns: those of {imports}, in order (rejected is 0, removed_at and
-- removed_by null).
-- Relations: {imports} (the bookkeeping table of imports).
-- Params: $id, $file, $sha, $table, $format, $rows, $added, $updated, $unchanged, $derived, $mapping,
-- $warnings, $at (when it was imported), $by (who imported it).
insert into {imports}
with

final as (
    select $id, $file, $sha, $table, $format, $rows, $added, $updated, $unchanged, 0, $derived, $mapping,
           $warnings, $at, null, $by, null
)

select * from final
