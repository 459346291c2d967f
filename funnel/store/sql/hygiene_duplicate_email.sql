-- Hygiene check duplicate_email: leads sharing an e-mail address (trimmed, any case), on each day D.
-- Grain: one row per day and flagged lead. Columns: as_of (the day D), lead_id, group (the address), detail.
-- Relations: {lead_rows} (hygiene_lead_rows.sql). Fragments: @days (the text of hygiene_days.sql).
-- Params: $as_of_days (see hygiene_days.sql).
with

days as (
/*@days*/
),

-- each lead's address is normalised once, then kept on the days the lead counts (hygiene_population.sql)
normalised as (
    select lead_id, created_at, lower(regexp_replace(email, '^\s+|\s+$', '', 'g')) as k
    from {lead_rows}
    where email is not null
),

-- an address only one lead has is shared on no day (a day's leads are some of them), so only the others are
-- kept on each day
keyed as (
    select d.as_of, n.lead_id, n.k
    from normalised as n
    semi join (select k from normalised where k <> '' group by k having count(*) > 1) as g on g.k = n.k
    join days as d on n.created_at is null or n.created_at < d.until
),

shared as (
    select as_of, k, count(*) as leads
    from keyed
    group by as_of, k
    having count(*) > 1
),

final as (
    select n.as_of, n.lead_id, n.k as "group", 'same e-mail as ' || (s.leads - 1) || ' other lead(s)' as detail
    from keyed as n
    join shared as s on s.as_of = n.as_of and s.k = n.k
)

select * from final
