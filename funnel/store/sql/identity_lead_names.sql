-- identity_lead_names: each lead's full name (name, else first and last name; trimmed, lower case, single
-- spaces) and the lead it joins to; a name on several leads goes to the first (or last) created one.
-- Grain: one row per normalised name. Params: $newest_first (true for the "last_created" rule).
with names as (
    select lead_id, created_at,
           lower(trim(regexp_replace(coalesce(name, concat_ws(' ', first_name, last_name)), '\s+', ' ', 'g')))
               as name
    from raw.leads
),

ranked as (
    select *, row_number() over (
        partition by name
        order by case when $newest_first then epoch_us(created_at) * -1 else epoch_us(created_at) end nulls last,
                 lead_id
    ) as pick, count(*) over (partition by name) as leads
    from names
    where name is not null and name <> ''
),

final as (
    select name, lead_id, leads,
           list(lead_id) over (partition by name order by pick
                               rows between unbounded preceding and unbounded following) as candidates
    from ranked
    qualify pick = 1
)

select * from final
