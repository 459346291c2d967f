-- Grain: one row per lead (its record id as imported) and point of the same-lead panel: days = 0 is
-- the version held by the first import of the leads table that held the lead; days = k (each of
-- $later_days) is the version in force at the first leads import at least k days after that one (none
-- when the store has no such import by D). Each row says whether each segmentation field is filled
-- in that version (the lead's value, else its account's as stored now), with its title text and
-- attributes (a list of {key, value}) and seen_at (the import's time).
-- Only imports of the leads table made by D and not removed count; leads created after D are left out.
-- Relations: {imports} (the bookkeeping table of imports), {accounts} (the resolved accounts). Reads
-- raw.leads and raw.leads__history (every imported version).
-- Params: $until (the first moment after day D), $later_days (the later points, in days).
with

lead_imports as (
    select import_id, imported_at
    from {imports}
    where table_name = 'leads' and removed_at is null and imported_at < $until
),

versions as (
    select *, null::bigint as _superseded_by from raw.leads
    union all by name
    select * from raw.leads__history
),

spans as (
    select v.*, i.imported_at as valid_from, s.imported_at as valid_to
    from versions as v
    join lead_imports as i on i.import_id = v._import_id
    left join lead_imports as s on s.import_id = v._superseded_by
    where v.lead_id is not null
),

current_leads as (
    select lead_id
    from raw.leads
    where lead_id is not null and (created_at is null or created_at < $until)
),

firsts as (
    select lead_id, min(valid_from) as first_at
    from spans
    where lead_id in (select lead_id from current_leads)
    group by lead_id
),

checks as (
    select f.lead_id, d.days, min(i.imported_at) as seen_at
    from firsts as f
    cross join (select unnest($later_days)::integer as days) as d
    join lead_imports as i on epoch_us(i.imported_at) - epoch_us(f.first_at) >= d.days * 86400000000
    group by f.lead_id, d.days
),

points as (
    select lead_id, 0 as days, first_at as seen_at from firsts
    union all
    select lead_id, days, seen_at from checks
),

in_force as (  -- the latest version imported at or before the point (versions of a lead never overlap)
    select p.days, p.seen_at, s.*
    from points as p
    asof join spans as s
      on s.lead_id = p.lead_id and s.valid_from <= p.seen_at
),

accounts as (
    select account_id, any_value(industry) as industry, any_value(employees) as employees,
           any_value(country) as country
    from {accounts}
    where account_id is not null
    group by account_id
),

final as (
    select v.lead_id, v.days, v.seen_at,
           nullif(trim(v.title), '') is not null as title,
           nullif(trim(v.phone), '') is not null as phone,
           coalesce(nullif(trim(v.company), ''), v.account_id) is not null as company,
           coalesce(nullif(trim(v.industry), ''), a.industry) is not null as industry,
           coalesce(v.employees, a.employees) is not null as employees,
           coalesce(nullif(trim(v.country), ''), a.country) is not null as country,
           v.title as title_text,
           map_entries(v.attributes) as attributes
    from in_force as v
    left join accounts as a on a.account_id = v.account_id
)

select * from final
