-- Statement: the import's rows whose key is not stored (new rows, and the new versions of replaced
-- rows, whose old versions were just deleted), added to the canonical table.
-- Grain: one row per row of the temp table _incoming without a stored key. Columns: those of {target}.
-- Relations: {target} (the canonical table). Params: none.
-- Fragment: @key_match (t.<key> = i.<key> for every key column).
insert into {target}
with

final as (
    select i.*
    from _incoming as i
    where not exists (select 1 from {target} as t where /*@key_match*/)
)

select * from final
