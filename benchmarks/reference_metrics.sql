-- The tuned reference of `funnel metrics` (benchmarks/reference.py runs it): the same five metric families in
-- plain DuckDB SQL, for the whole population (no segment), the default policies (skipped stages implicit,
-- no cohort period), without intervals, p-values or significance:
--   distribution  leads per current stage at D (stage null: no stage yet);
--   conversion    per step k → k+1: entered, advanced, lost, expired, open, implied;
--   aging         per current stage: leads, over_sla, one count per bucket, and Kaplan–Meier
--                 median/p80/p90 days in stage over every dated stay (stays still open censored at D);
--   reach         leads, and per reported stage the leads that got at least that far by D;
--   deals         closed and won deals, won amount, Kaplan–Meier median days to customer.
-- Grain: one row per (family, stage, metric). Columns: family, stage_rank (the stage, or the step's from
-- stage; null: the family's total or no stage), metric, value (double).
-- Params: $stages (main stages, then side states), $n_main (how many main stages), $until (the first
-- moment after day D), $as_of (D), $window (conversion window in days), $buckets (upper bounds of the aging
-- buckets), $sla (SLA days per stage rank, null: none), $opportunity (rank of "opportunity", -1: none),
-- $first_reported (the rank of the first stage whose reach is reported).
-- Fragment: /*entries*/ (benchmarks/reference_entries_<ladder>.sql: lead_id, stage_rank, entered_at, placed,
-- tie, tie_reason).
with

entries as (
    /*@entries*/
),

deduplicated as (  -- a repeat of the stage the lead is already in is no new entry
    select lead_id, stage_rank, entered_at, placed, tie, tie_reason
    from entries
    qualify lag(stage_rank) over (partition by lead_id order by entered_at asc nulls first, tie asc nulls last,
                                  tie_reason asc nulls last) is distinct from stage_rank
),

timeline as (
    select lead_id, stage_rank, entered_at, stage_rank >= $n_main as is_side,
           entered_at is not null and not placed as known,
           row_number() over w as seq,
           lag(stage_rank) over w as prev_rank,
           lead(stage_rank) over w as next_rank,
           lead(entered_at) over w as next_at
    from deduplicated
    window w as (partition by lead_id order by entered_at asc nulls first, tie asc nulls last,
                 tie_reason asc nulls last)
),

summary as (
    select lead_id,
           arg_min_null(entered_at, seq) as first_entered_at,
           arg_max_null(stage_rank, seq) as stage_rank,
           arg_max_null(entered_at, seq) as entered_at,
           max(stage_rank) filter (where not is_side) as furthest_rank,
           min(entered_at) filter (where stage_rank = $n_main - 1) as customer_at,
           bool_and(known) as known
    from timeline
    group by lead_id
),

population as (
    select coalesce(l.lead_id, s.lead_id) as lead_id, least(l.created_at, s.first_entered_at) as first_seen,
           s.stage_rank, s.entered_at, s.furthest_rank, s.customer_at, coalesce(s.known, true) as known
    from (select lead_id, created_at from leads where lead_id is not null) as l
    full join summary as s on l.lead_id = s.lead_id
    where least(l.created_at, s.first_entered_at) is null or least(l.created_at, s.first_entered_at) < $until
),

-- conversion ------------------------------------------------------------------------------------------

moves as (
    select lead_id, stage_rank, entered_at, prev_rank, next_rank, next_rank >= $n_main as next_side, next_at
    from timeline
    where known and not is_side and cast(entered_at as date) <= $as_of
),

cohort as (
    select lead_id, stage_rank, entered_at, false as implied, next_rank, next_side, next_at
    from moves
    where stage_rank < $n_main - 1
    union all  -- a jump from k to k+j enters k+1 … k+j−1 at that moment, advanced at once
    select lead_id, implied_rank, entered_at, true, implied_rank + 1, false, entered_at
    from (select lead_id, entered_at, unnest(range(prev_rank + 1, stage_rank)) as implied_rank
          from moves
          where prev_rank < $n_main and stage_rank > prev_rank + 1)
),

lost_deals as (
    select deal_id, lead_id, closed_at
    from deals
    where won = false and lead_id is not null and closed_at < $until
),

losses as (  -- a lost deal loses nothing while another deal of the lead is still open
    select l.lead_id, l.closed_at as lost_at
    from lost_deals as l
    where l.deal_id not in (
        select l2.deal_id
        from lost_deals as l2
        join deals as o
          on o.lead_id = l2.lead_id and o.deal_id <> l2.deal_id
         and (o.created_at is null or o.created_at <= l2.closed_at)
         and (o.closed_at is null or o.closed_at > l2.closed_at))
),

opportunity_losses as (  -- the first loss after an opportunity entry, when it comes before the next entry
    select c.lead_id, c.entered_at, min(x.lost_at) as lost_at, any_value(c.next_at) as next_at
    from (select distinct lead_id, entered_at, next_at from cohort where stage_rank = $opportunity) as c
    join losses as x on x.lead_id = c.lead_id and x.lost_at > c.entered_at
    group by c.lead_id, c.entered_at
),

decided as (
    select c.stage_rank, c.implied, c.entered_at, c.next_rank, c.next_side, o.lost_at,
           coalesce(o.lost_at, c.next_at) as event_at
    from cohort as c
    left join opportunity_losses as o
      on c.stage_rank = $opportunity and o.lead_id = c.lead_id and o.entered_at = c.entered_at
     and (o.next_at is null or o.lost_at < o.next_at)
),

outcomes as (
    select stage_rank, implied,
           case
               when not coalesce(datediff('day', cast(entered_at as date), cast(event_at as date)) <= $window, false)
                   then case when datediff('day', cast(entered_at as date), $as_of) > $window then 'expired'
                             else 'open' end
               when coalesce(lost_at is null and not next_side and next_rank > stage_rank, false) then 'advanced'
               else 'lost'
           end as outcome
    from decided
),

conversion as (
    select stage_rank, count(*) as entered,
           count(*) filter (where outcome = 'advanced') as advanced,
           count(*) filter (where outcome = 'lost') as lost,
           count(*) filter (where outcome = 'expired') as expired,
           count(*) filter (where outcome = 'open') as open,
           count(*) filter (where implied) as implied
    from outcomes
    group by stage_rank
),

-- aging -----------------------------------------------------------------------------------------------

aged as (
    select stage_rank, datediff('day', cast(entered_at as date), $as_of) as days
    from population
    where stage_rank is not null
),

aging as (
    select stage_rank, count(*) as leads,
           count(*) filter (where days > $sla[stage_rank + 1]) as over_sla,
           histogram(len(list_filter($buckets, lambda b: days > b))) filter (where days is not null) as buckets
    from aged
    group by stage_rank
),

-- Kaplan–Meier: stays in each stage (group = stage rank) and days to customer (group = -1) -----------

km_input as (
    select stage_rank as grp, datediff('day', cast(entered_at as date), coalesce(cast(next_at as date), $as_of)) as t,
           next_at is not null as event
    from timeline
    where known and cast(entered_at as date) <= $as_of
    union all
    select -1, datediff('day', cast(first_seen as date), coalesce(cast(customer_at as date), $as_of)),
           customer_at is not null
    from population
    where known and first_seen is not null
),

km_steps as (
    select grp, t, count(*) filter (where event) as d, count(*) as removed
    from km_input
    group by grp, t
),

km_at_risk as (
    select grp, t, d, removed, sum(removed) over (partition by grp order by t desc) as at_risk
    from km_steps
),

km_survival as (
    select grp, t,
           case when bool_or(d = at_risk) over w then 0.0
                else exp(sum(case when d < at_risk then ln(1.0 - d / at_risk) else 0.0 end) over w) end as survival
    from km_at_risk
    window w as (partition by grp order by t rows between unbounded preceding and current row)
),

km as (
    select grp,
           min(t) filter (where 1.0 - survival >= 0.5 - 1e-10) as p50,
           min(t) filter (where 1.0 - survival >= 0.8 - 1e-10) as p80,
           min(t) filter (where 1.0 - survival >= 0.9 - 1e-10) as p90
    from km_survival
    group by grp
),

-- deals per lead --------------------------------------------------------------------------------------

closed_deals as (
    select lead_id, count(*) as closed, count(*) filter (where won) as won,
           coalesce(sum(amount) filter (where won), 0) as won_amount
    from deals
    where lead_id is not null and won is not null
      and (coalesce(closed_at, created_at) is null or coalesce(closed_at, created_at) < $until)
    group by lead_id
),

furthest as (
    select furthest_rank, count(*) as leads
    from population
    group by furthest_rank
),

reach as (
    select r as stage_rank, coalesce(sum(f.leads) filter (where f.furthest_rank >= r), 0) as reached
    from (select unnest(range($first_reported, $n_main)) as r) as ranks
    cross join furthest as f
    group by r
),

deal_totals as (
    select coalesce(sum(c.closed), 0) as closed, coalesce(sum(c.won), 0) as won,
           coalesce(sum(c.won_amount), 0) as won_amount
    from closed_deals as c
    semi join population as p on p.lead_id = c.lead_id
),

final as (
    select 'distribution' as family, stage_rank, 'leads' as metric, cast(count(*) as double) as value
    from population group by stage_rank
    union all
    select 'conversion', stage_rank, unnest(['entered', 'advanced', 'lost', 'expired', 'open', 'implied']),
           unnest([entered, advanced, lost, expired, open, implied])::double
    from conversion
    union all
    select 'aging', stage_rank, unnest(['leads', 'over_sla']), unnest([leads, over_sla])::double
    from aging
    union all
    select 'aging', stage_rank, 'bucket_' || cast(unnest(map_keys(buckets)) as varchar), unnest(map_values(buckets))::double
    from aging
    union all
    select 'aging', grp, unnest(['median_days', 'p80_days', 'p90_days']), unnest([p50, p80, p90])::double
    from km where grp >= 0
    union all
    select 'reach', null, 'leads', sum(leads)::double from furthest
    union all
    select 'reach', stage_rank, 'reached', reached::double from reach
    union all
    select 'deals', null, unnest(['closed_deals', 'won_deals', 'won_amount']),
           unnest([closed, won, won_amount])::double
    from deal_totals
    union all
    select 'deals', null, 'median_days_to_customer', p50::double from km where grp = -1
)

select * from final
