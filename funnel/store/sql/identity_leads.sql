-- identity_leads: the leads as imported, with the account their e-mail's domain names where the lead
-- names none (free-mail domains never join an account). created_at stays as imported (an entry before it
-- is a hygiene finding; the lead counts from the earlier of the two in the history).
-- Grain: one row per lead. Params: $free_mail, $junk (lower-case lists).
with leads as (
    select * from raw.leads
),

accounts as (  -- the account of each normalised domain (the smallest id when several share one)
    select regexp_extract(lower(trim(domain)), '^(?:https?://)?(?:www\.)?([^/:?#\s]+)', 1) as norm_domain,
           min(account_id) as account_id
    from main.accounts
    where domain is not null
    group by 1
),

email_domains as (
    select lead_id, split_part(lower(trim(email)), '@', 2) as email_domain
    from leads
    where account_id is null and email is not null
      and regexp_full_match(lower(trim(email)), '[^@\s]+@[^@\s]+\.[^@\s.]+[^@\s]*')
      and not list_contains($junk, lower(trim(email)))
),

joined as (
    select e.lead_id, a.account_id
    from email_domains e
    join accounts a on a.norm_domain = e.email_domain
    where not list_contains($free_mail, e.email_domain) and a.norm_domain <> ''
),

final as (
    select l.* replace (coalesce(l.account_id, j.account_id) as account_id)
    from leads l
    left join joined j on j.lead_id = l.lead_id
)

select * from final
