-- Leads found by a search text: id, e-mail or name containing it (any case), the exact id first.
-- Grain: lead_id (at most $limit rows). Columns: lead_id, name, email, company, lifecycle_stage, owner.
-- Params: $q (the search text, trimmed and lower-case), $limit (how many rows at most).
with

final as (
    select lead_id, name, email, company, lifecycle_stage, owner
    from leads
    where contains(lower(lead_id), $q) or contains(lower(coalesce(email, '')), $q)
       or contains(lower(coalesce(name, '')), $q)
)

select * from final
order by lower(lead_id) = $q desc, lead_id
limit $limit
