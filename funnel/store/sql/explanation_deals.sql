-- One lead's deal events up to D, as rows of its stage explanation (funnel/model/stages.py): each
-- deal's creation, then its close (won, or lost with its reason).
-- Grain: deal_id × event (created, closed). Columns: row_id (deal_id), what, at, detail.
-- Params: $lead (the lead id), $until (the first moment after day D).
with

created as (
    select deal_id as row_id, 'deal created' as what, created_at as at, name as detail
    from deals
    where lead_id = $lead and created_at < $until
),

closed as (
    select deal_id as row_id, case when won then 'deal won' else 'deal lost' end as what, closed_at as at,
           case when won then name else coalesce(lost_reason, name) end as detail
    from deals
    where lead_id = $lead and won is not null and closed_at < $until
),

final as (
    select * from created
    union all select * from closed
)

select * from final
