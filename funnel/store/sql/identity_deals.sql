-- identity_deals: the deals on their lead (by the identity map) and account (by id, else by the account's
-- name, for CRMs that export lookups by name); deals of a person who is not a lead are left out.
-- Grain: one row per deal. Params: none.
with names as (
    select lower(trim(name)) as account_name, min(account_id) as account_id
    from main.accounts
    where name is not null
    group by 1
),

final as (
    select r.* replace (m.lead_id as lead_id, coalesce(a.account_id, n.account_id, r.account_id) as account_id)
    from raw.deals r
    left join main.identity_map m on m.tool_id = r.lead_id
    left join main.accounts a on a.account_id = r.account_id
    left join names n on n.account_name = lower(trim(r.account_id))
    where r.lead_id is null or m.lead_id is not null
)

select * from final
