-- Statement: the stored rows an import replaces (same key, some value differs), kept in the temp
-- table _changed for the upsert.
-- Grain: one row per replaced row of {target}. Columns: target_rowid.
-- Relations: {target} (the canonical table). Reads the temp table _incoming (the import's rows).
-- Params: none. Fragments: @key_match (t.<key> = i.<key> for every key column), @differs (any
-- compared column of t distinct from i's, or false).
create or replace temp table _changed as
with

final as (
    select t.rowid as target_rowid
    from {target} as t
    join _incoming as i on /*@key_match*/
    where /*@differs*/
)

select * from final
