-- Statement: history rows that the removed import had superseded, handed on to whatever superseded
-- the import's own versions (so removing an import in the middle keeps the chain of versions).
-- Grain: one row per history row of {history} superseded by the import and by a later one.
-- Columns: those of {history} (only _superseded_by changes).
-- Relations: {history} (the table's history). Params: $id (the import being removed).
-- Fragments: @keys (the key columns, quoted), @key_pairs (h.<key> = x.<key> for every key column).
update {history} as h
set _superseded_by = x._superseded_by
from (
    with

    final as (
        select /*@keys*/, _superseded_by
        from {history}
        where _import_id = $id
    )

    select * from final
) as x
where h._superseded_by = $id and /*@key_pairs*/
