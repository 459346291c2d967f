-- Hygiene check same_name_domain: leads with the same name at the same e-mail or company domain
-- and different e-mail addresses, on each day D.
-- Grain: one row per day and flagged lead. Columns: as_of (the day D), lead_id, group (name @ domain), detail.
-- Relations: {lead_rows} (hygiene_lead_rows.sql). Fragments: @days (the text of hygiene_days.sql).
-- Params: $as_of_days (see hygiene_days.sql).
with

days as (
/*@days*/
),

account_domains as (
    select account_id,
           nullif(split_part(regexp_replace(lower(trim(any_value(domain))), '^(https?://)?(www\.)?', ''), '/', 1), '')
               as domain
    from accounts
    where account_id is not null
    group by account_id
),

-- each lead's name and domain are normalised once, then kept on the days the lead counts
-- (hygiene_population.sql)
normalised as (
    select l.lead_id, l.created_at,
           nullif(lower(regexp_replace(trim(l.name), '\s+', ' ', 'g')), '') as person,
           lower(regexp_replace(l.email, '^\s+|\s+$', '', 'g')) as k,
           coalesce(nullif(regexp_extract(lower(regexp_replace(l.email, '^\s+|\s+$', '', 'g')), '@([^@]+)$', 1), ''),
                    a.domain) as domain
    from {lead_rows} as l
    left join account_domains as a on a.account_id = l.account_id
),

-- a name at a domain only one lead has makes no group on any day (a day's leads are some of them), so only
-- the others are kept on each day
candidates as (
    select n.*
    from normalised as n
    semi join (
        select person, domain
        from normalised
        where person is not null and domain is not null
        group by person, domain
        having count(*) > 1
    ) as g on g.person = n.person and g.domain = n.domain
),

-- the groups by name and domain with more than one lead and more than one address (a lead without an
-- address counts as its own); an aggregate joined back, not a window: DuckDB's windowed DISTINCT count
-- cost three quarters of this query at 1M leads. The addresses are counted by grouping them first, not by
-- count(distinct ...), which cost a third of what was left.
named as (
    select d.as_of, n.lead_id, n.person, n.domain, n.k
    from candidates as n
    join days as d on n.created_at is null or n.created_at < d.until
),

addresses as (
    select as_of, person, domain, coalesce(nullif(k, ''), lead_id) as address, count(*) as leads
    from named
    group by as_of, person, domain, address
),

shared as (
    select as_of, person, domain, sum(leads) as leads
    from addresses
    group by as_of, person, domain
    having sum(leads) > 1 and count(*) > 1
),

final as (
    select n.as_of, n.lead_id, n.person || ' @ ' || n.domain as "group",
           (s.leads - 1) || ' other lead(s) with this name at this domain' as detail
    from named as n
    join shared as s on s.as_of = n.as_of and s.person = n.person and s.domain = n.domain
)

select * from final
