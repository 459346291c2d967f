-- Recycles: the moments sales sent a lead back to nurture (funnel stage engine, funnel/model/stages.py).
-- Grain: lead_id × t (one row per lead and moment). Columns: lead_id, t, reason, evidence_type,
-- evidence_id.
-- Params: $until (the first moment after day D), $lifecycle (main lifecycle stages in order),
-- $opportunity_lifecycle (lifecycle stages that prove an opportunity), $first_opportunity_position
-- (1-based position on $lifecycle of the lowest of them).
-- Fragment: @lead_filter (limits the leads to $lead_ids, or empty).
-- * A lost deal recycles its lead unless another deal of that lead is still open at that moment.
-- * A lifecycle entry below the opportunity stages straight after one of them (sql -> lead, say)
--   recycles the lead; the entry's reason, else "moved back from <previous> to <stage>".
-- * Two recycles of one lead at the same moment count once (deal first, then by id).
with

deals_of_leads as (
    select deal_id, lead_id, created_at, closed_at, won, lost_reason
    from deals
    where lead_id is not null /*@lead_filter*/
),

lost_deals as (
    select d.lead_id, d.closed_at as t,
           coalesce(nullif(trim(d.lost_reason), ''), 'deal lost') as reason,
           'deal' as evidence_type, d.deal_id as evidence_id
    from deals_of_leads as d
    where d.won = false
      and d.closed_at < $until
      and not exists (
          select 1
          from deals_of_leads as other
          where other.lead_id = d.lead_id
            and other.deal_id is distinct from d.deal_id
            and other.created_at <= d.closed_at
            and (other.closed_at is null or other.closed_at > d.closed_at)
      )
),

lifecycle_entries as (
    select lead_id, stage, entered_at, reason, list_position($lifecycle, stage) as position
    from stage_events
    where coalesce(ladder, 'lifecycle') = 'lifecycle'
      and lead_id is not null
      and entered_at < $until /*@lead_filter*/
      and lead_id in (select lead_id from stage_events where list_contains($opportunity_lifecycle, stage))
),

lifecycle_moves as (
    select *,
           lag(stage) over (partition by lead_id order by entered_at, position nulls last, stage) as previous_stage
    from lifecycle_entries
),

moved_back as (
    select lead_id, entered_at as t,
           coalesce(nullif(trim(reason), ''), 'moved back from ' || previous_stage || ' to ' || stage) as reason,
           'lifecycle:' || stage as evidence_type, cast(null as varchar) as evidence_id
    from lifecycle_moves
    where list_contains($opportunity_lifecycle, previous_stage)
      and position is not null
      and position < $first_opportunity_position
),

final as (
    select *
    from (select * from lost_deals union all select * from moved_back)
    qualify row_number() over (partition by lead_id, t
                               order by evidence_type, evidence_id nulls last, reason) = 1
)

select * from final
