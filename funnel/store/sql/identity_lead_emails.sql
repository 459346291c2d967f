-- identity_lead_emails: each usable e-mail of the leads table and the lead it joins to; an e-mail on
-- several leads goes to the first (or last) created one. Grain: one row per normalised e-mail.
-- Params: $junk (e-mails that never join), $newest_first (true for the "last_created" rule).
with emails as (
    select lead_id, lower(trim(email)) as email, created_at from raw.leads
),

valid as (
    select * from emails
    where regexp_full_match(email, '[^@\s]+@[^@\s]+\.[^@\s.]+[^@\s]*') and not list_contains($junk, email)
),

ranked as (
    select *, row_number() over (
        partition by email
        order by case when $newest_first then epoch_us(created_at) * -1 else epoch_us(created_at) end nulls last,
                 lead_id
    ) as pick, count(*) over (partition by email) as leads
    from valid
),

final as (
    select email, lead_id, leads,
           list(lead_id) over (partition by email order by pick
                               rows between unbounded preceding and unbounded following) as candidates
    from ranked
    qualify pick = 1
)

select * from final
