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

final as (
    select lead_id, person || ' @ ' || domain as "group",
           (count(*) over g - 1) || ' other lead(s) with this name at this domain' as detail
    from keyed
    where person is not null and domain is not null
    window g as (partition by person, domain)
    qualify count(*) over g > 1 and count(distinct coalesce(nullif(k, ''), lead_id)) over g > 1
)

select * from final
