-- The moments a lead's deals were lost: when a deal closed lost and the lead had no other deal
-- still open at that moment (a lost deal while another is being worked loses nothing yet).
-- Grain: lead_id × moment. Columns: lead_id, lost_at, lost_reason.
-- Params: $until (the first moment after day D).
with

lost as (
    select deal_id, lead_id, closed_at, lost_reason
    from deals
    where won = false and lead_id is not null and closed_at < $until
),

still_open as (
    select l.deal_id
    from lost as l
    join deals as o
      on o.lead_id = l.lead_id and o.deal_id <> l.deal_id
     and (o.created_at is null or o.created_at <= l.closed_at)
     and (o.closed_at is null or o.closed_at > l.closed_at)
),

final as (
    select lead_id, closed_at as lost_at, lost_reason
    from lost
    where deal_id not in (select deal_id from still_open)
)

select * from final
