-- Grain: one row per account (the last stored row of each account_id), with what company matching
-- and merge suggestions read, and how many leads each account has.
-- Relations: {accounts}, {leads}. Params: none.
with

accounts as (
    select *
    from {accounts}
    where account_id is not null
    qualify row_number() over (partition by account_id order by _import_id desc) = 1
),

lead_counts as (
    select account_id, count(distinct lead_id) as leads
    from {leads}
    where account_id is not null
    group by account_id
),

final as (
    select a.account_id, a.name, a.domain, a.industry, a.employees, a.annual_revenue, a.country, a.owner,
           coalesce(c.leads, 0) as leads
    from accounts as a
    left join lead_counts as c on c.account_id = a.account_id
)

select * from final
