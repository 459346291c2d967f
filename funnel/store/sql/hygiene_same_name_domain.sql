-- Hygiene check same_name_domain: leads with the same name at the same e-mail or company domain
-- and different e-mail addresses.
-- Grain: one row per flagged lead. Columns: lead_id, group (name @ domain), detail.
-- Fragments: @population (the text of hygiene_population.sql).
-- Params: $until (see hygiene_population.sql).
with

population as (
/*@population*/
),

account_domains as (
    select account_id,
           nullif(split_part(regexp_replace(lower(trim(any_value(domain))), '^(https?://)?(www\.)?', ''), '/', 1), '')
               as domain
    from accounts
    where account_id is not null
    group by account_id
),

keyed as (
    select p.lead_id,
           nullif(lower(regexp_replace(trim(p.name), '\s+', ' ', 'g')), '') as person,
           lower(regexp_replace(p.email, '^\s+|\s+$', '', 'g')) as k,
           coalesce(nullif(regexp_extract(lower(regexp_replace(p.email, '^\s+|\s+$', '', 'g')), '@([^@]+)$', 1), ''),
                    a.domain) as domain
    from population as p
    left join account_domains as a on a.account_id = p.account_id
),

-- the groups by name and domain with more than one lead and more than one address (a lead without an
-- address counts as its own); an aggregate joined back, not a window: DuckDB's windowed DISTINCT count
-- cost three quarters of this query at 1M leads
named as (
    select lead_id, person, domain, k
    from keyed
    where person is not null and domain is not null
),

shared as (
    select person, domain, count(*) as leads
    from named
    group by person, domain
    having count(*) > 1 and count(distinct coalesce(nullif(k, ''), lead_id)) > 1
),

final as (
    select n.lead_id, n.person || ' @ ' || n.domain as "group",
           (s.leads - 1) || ' other lead(s) with this name at this domain' as detail
    from named as n
    join shared as s on s.person = n.person and s.domain = n.domain
)

select * from final
