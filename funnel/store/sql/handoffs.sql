-- The marketing → sales handoffs as of day D: what the handoff review knows about each pass of a
-- lead through MQL besides its outcome (the outcome is the conversion step's, decided in Polars).
-- Grain: one row per pass through MQL on the lifecycle ladder (dated, logged entries only): an
-- entry into MQL, or, when $implicit, a move from a main stage below MQL to a main stage above it
-- (MQL skipped: entered and left at that moment, as the conversion step counts it).
-- Columns: lead_id, handoff (1, 2, … per lead), mql_at, implied (MQL skipped), next_mql_at (the
-- lead's next pass), moved_at (the first entry after MQL; mql_at when skipped), moved_up (that move
-- went up the main ladder), returned_at, return_reason (the first entry below MQL before the next
-- pass), bounced (an entry into MQL after an earlier pass went above MQL), first_touch_at (the first
-- $touch activity from mql_at until the next pass or D).
-- Fragments: @lifecycle_entries (the text of lifecycle_entries.sql).
-- Params: those of lifecycle_entries.sql ($ladder, $stages, $until), $mql_rank, $main (the number
-- of main stages), $implicit (skipped stages count as entered), $touch (the sales-touch activity).
with

entries as (
/*@lifecycle_entries*/
),

moves as (
    select lead_id, seq, stage_rank, prev_rank, entered_at, reason,
           lead(stage_rank) over w as next_rank,
           lead(entered_at) over w as next_at,
           stage_rank <> $mql_rank as implied
    from entries
    where basis = 'stage_event'
    window w as (partition by lead_id order by seq)
),

marked as (
    select *,
           stage_rank = $mql_rank
           or ($implicit and prev_rank < $mql_rank and stage_rank > $mql_rank and stage_rank < $main) as passes
    from moves
),

numbered as (
    select *,
           sum(case when passes then 1 else 0 end)
               over (partition by lead_id order by seq rows unbounded preceding) as handoff
    from marked
),

handoffs as (
    select lead_id, handoff,
           max(entered_at) filter (where passes) as mql_at,  -- the group's first row, its only pass
           bool_or(implied) filter (where passes) as implied,
           max(case when implied then entered_at else next_at end) filter (where passes) as moved_at,
           bool_or(implied or (next_rank > $mql_rank and next_rank < $main)) filter (where passes) as moved_up,
           min({'seq': seq, 'at': entered_at, 'reason': reason}) filter (where stage_rank < $mql_rank) as back,
           max(stage_rank) filter (where stage_rank < $main) as top_rank
    from numbered
    where handoff > 0
    group by lead_id, handoff
),

linked as (
    select *,
           lead(mql_at) over w as next_mql_at,
           not implied and coalesce(lag(top_rank) over w > $mql_rank, false) as bounced
    from handoffs
    window w as (partition by lead_id order by handoff)
),

touches as (
    select lead_id, occurred_at
    from activities
    where activity_type = $touch
      and lead_id is not null
      and occurred_at < $until
),

first_touches as (
    select h.lead_id, h.handoff, min(t.occurred_at) as first_touch_at
    from linked as h
    join touches as t
      on t.lead_id = h.lead_id
     and t.occurred_at >= h.mql_at
     and t.occurred_at < coalesce(h.next_mql_at, $until)
    group by h.lead_id, h.handoff
),

final as (
    select h.lead_id, h.handoff, h.mql_at, h.implied, h.next_mql_at, h.moved_at, coalesce(h.moved_up, false) as moved_up,
           h.back.at as returned_at, h.back.reason as return_reason, h.bounced, f.first_touch_at
    from linked as h
    left join first_touches as f on f.lead_id = h.lead_id and f.handoff = h.handoff
)

select * from final
