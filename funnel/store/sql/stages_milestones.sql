-- Milestone evidence for the funnel stage engine (funnel/model/stages.py): lead creation, deals and
-- lifecycle stages. Grain: one row per piece of evidence. Columns: lead_id, t, stage_rank,
-- evidence_type, evidence_id.
-- Params: $until (the first moment after day D), $first_rank, $opportunity_rank, $customer_rank,
-- $opportunity_lifecycle, $customer_lifecycle.
-- Fragment: @lead_filter (limits the leads to $lead_ids, or empty).
-- * created: the lead is known to us -> the first funnel stage, at created_at.
-- * a deal for the lead -> opportunity at the deal's created_at; a won deal -> customer at closed_at.
-- * a lifecycle entry into an opportunity (customer) lifecycle stage -> opportunity (customer).
-- * a lead the lifecycle log never mentions whose current lifecycle_stage is such a stage: placed
--   there at its created_at (evidence_id 'current value'), as the lifecycle ladder places it.
-- Other undated evidence (a deal without created_at, a won deal without closed_at) is left out.
with

created as (
    select lead_id, created_at as t, $first_rank as stage_rank,
           'created' as evidence_type, cast(null as varchar) as evidence_id
    from leads
    where lead_id is not null and created_at < $until /*@lead_filter*/
),

deal_opened as (
    select lead_id, created_at as t, $opportunity_rank as stage_rank, 'deal' as evidence_type,
           deal_id as evidence_id
    from deals
    where lead_id is not null and created_at < $until /*@lead_filter*/
),

deal_won as (
    select lead_id, closed_at as t, $customer_rank as stage_rank, 'deal' as evidence_type,
           deal_id as evidence_id
    from deals
    where lead_id is not null and won and closed_at < $until /*@lead_filter*/
),

lifecycle_reached as (
    select lead_id, entered_at as t,
           case when list_contains($customer_lifecycle, stage) then $customer_rank
                else $opportunity_rank end as stage_rank,
           'lifecycle:' || stage as evidence_type, cast(null as varchar) as evidence_id
    from stage_events
    where coalesce(ladder, 'lifecycle') = 'lifecycle'
      and lead_id is not null
      and entered_at < $until /*@lead_filter*/
      and (list_contains($opportunity_lifecycle, stage) or list_contains($customer_lifecycle, stage))
),

current_lifecycle as (
    select l.lead_id, l.created_at as t,
           case when list_contains($customer_lifecycle, l.lifecycle_stage) then $customer_rank
                else $opportunity_rank end as stage_rank,
           'lifecycle:' || l.lifecycle_stage as evidence_type, 'current value' as evidence_id
    from leads as l
    where l.lead_id is not null and l.created_at < $until /*@lead_filter*/
      and (list_contains($opportunity_lifecycle, l.lifecycle_stage) or list_contains($customer_lifecycle, l.lifecycle_stage))
      and not exists (select 1 from stage_events as e
                      where e.lead_id = l.lead_id and coalesce(e.ladder, 'lifecycle') = 'lifecycle')
),

final as (
    select * from created
    union all select * from deal_opened
    union all select * from deal_won
    union all select * from lifecycle_reached
    union all select * from current_lifecycle
)

select * from final
