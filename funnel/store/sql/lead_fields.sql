-- The fields a lead's fit criteria and tags are tested on (funnel/model/scoring.py lead_fields).
-- Grain: lead_id (leads with an id; created by the end of D when as_of is given). Columns: the
-- lead's own columns asked for, the account fields asked for (the account's value, else the lead's)
-- and attr:<key> (the lead's attribute, else its account's).
-- Params: $until (the first moment after day D, only with as_of), $lead_ids (only when limited),
-- $k0, $k1 … (attribute keys). Fragments: @columns (the select list, identifiers quoted),
-- @conditions (the where clause: lead_id not null, then the $until and $lead_ids tests in use).
with

final as (
    select /*@columns*/
    from leads as l
    left join accounts as a on a.account_id = l.account_id
    where /*@conditions*/
)

select * from final
