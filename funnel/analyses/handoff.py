"""The marketing → sales handoff: were MQLs accepted, how fast were they touched, what came back and why.

The unit is a **handoff**: one entry into MQL on the lifecycle ladder. A lead that returns to MQL
starts a new handoff, so a lead can count twice (the `leads` column counts people). Everything is
as of a day D (the end of day D counts), read from the lifecycle stage log; a lead the log never
mentions is placed at its current `lifecycle_stage` on its created date.

Each handoff in the period ends in exactly one outcome at D, decided by the handoff's first move
off MQL on the main ladder (side states such as former_customer are not a decision):

- **accepted**: the first move is up the ladder (SQL or later) at most W days after the MQL entry
  (W = `conversion.window_days`, whole calendar days);
- **recycled**: the first move is back down (lead, subscriber): sales sent it back to nurture;
- **expired**: neither, and more than W days have passed at D (a later acceptance counts here);
- **pending**: neither, and at most W days have passed.

acceptance rate = accepted / (accepted + recycled + expired); pending handoffs are shown, not failed.

Also per handoff: **SLA breach** when it sat at MQL (until its first move, or until D) more than
`aging.sla_days["mql"]` days; **speed-to-lead** from the MQL entry to the first `sales_touch`
activity before the lead's next MQL entry (Kaplan–Meier: a handoff never touched is censored at D,
or at its next MQL entry); **bounced** when the lead had an earlier handoff that went above MQL
and came back to MQL again (ping-pong); **recycled after acceptance** when it went up and later
returned below MQL (before any new handoff).

Segments (`by`) are lead columns as they stand in the leads table (the current owner, not the
owner at the time).
"""

from __future__ import annotations

from datetime import date, datetime, time

import duckdb
import polars as pl

from funnel import schema as sc
from funnel.config import Settings
from funnel.errors import FunnelError
from funnel.filters import Filters, until
from funnel.stats import km_quantiles_frame, small_sample, wilson_interval
from funnel.store.db import frame, quote_ident

__all__ = [
    "KINDS",
    "NO_REASON",
    "OUTCOMES",
    "REVIEW_SCHEMA",
    "UNKNOWN",
    "handoff_leads",
    "handoff_review",
    "lifecycle_entries_sql",
    "recycle_reasons",
    "segmentable_columns",
    "until",
]

MQL = "mql"  # the lifecycle stage whose entry is the handoff
SALES_TOUCH = "sales_touch"  # the activity type that counts as a sales touch
assert MQL in sc.LIFECYCLE_STAGES and SALES_TOUCH in sc.CANONICAL_ACTIVITY_TYPES

ACCEPTED, RECYCLED, EXPIRED, PENDING = "accepted", "recycled", "expired", "pending"
OUTCOMES = (ACCEPTED, RECYCLED, EXPIRED, PENDING)
# The lists behind the counts of `handoff_review`.
KINDS = ("pending", "breached", "recycled", "bounced", "untouched", "accepted", "expired")
UNKNOWN = "(unknown)"  # the segment of a lead whose column is empty
NO_REASON = "(no reason given)"

REVIEW_SCHEMA: dict[str, pl.DataType] = {
    "segment": pl.String(),  # null on the total row
    "mqls": pl.Int64(),  # handoffs (MQL entries) in the period
    "leads": pl.Int64(),  # distinct leads among them
    ACCEPTED: pl.Int64(),
    RECYCLED: pl.Int64(),
    EXPIRED: pl.Int64(),
    PENDING: pl.Int64(),
    "acceptance_rate": pl.Float64(),
    "acceptance_low": pl.Float64(),
    "acceptance_high": pl.Float64(),
    "small_sample": pl.Boolean(),
    "touched": pl.Int64(),
    "untouched": pl.Int64(),
    "speed_to_lead_median_hours": pl.Float64(),
    "speed_to_lead_p90_hours": pl.Float64(),
    "sla_breaches": pl.Int64(),  # null when no MQL SLA is set
    "bounced": pl.Int64(),
    "recycled_after_acceptance": pl.Int64(),
}

REASONS_SCHEMA: dict[str, pl.DataType] = {
    sc.REASON: pl.String(),
    "leads": pl.Int64(),  # handoffs that came back to nurture with this reason
    "share": pl.Float64(),
    "rejected_at_mql": pl.Int64(),  # sent straight back from MQL
    "after_acceptance": pl.Int64(),  # came back from SQL or later
}

LEAD_COLUMNS = (sc.NAME, sc.EMAIL, sc.COMPANY, sc.SOURCE, sc.OWNER, sc.LIFECYCLE_STAGE, sc.LEAD_STATUS)




# --------------------------------------------------------------------------------------- SQL

# The lifecycle ladder at D, shared with the hygiene report. Grain: one row per stage entry at or
# before the end of day D (undated entries placed from lifecycle_stage included), consecutive
# repeats of a stage dropped. Columns: lead_id, stage, stage_rank (0-based over $stages: main
# stages then side states), entered_at, reason, seq (1, 2, … per lead in ladder order), prev_rank.
# Params: $ladder, $stages, $raw (distinct leads.lifecycle_stage values), $placed (their stage or
# null), $until. Leads the stage log mentions (at any date) are never placed from lifecycle_stage.
_LIFECYCLE_ENTRIES = """
logged as (
    select lead_id, stage, entered_at, reason
    from stage_events
    where coalesce(ladder, 'lifecycle') = $ladder
      and lead_id is not null
),

mentioned as (
    select distinct lead_id from logged
),

placed as (
    select l.lead_id, ($placed)[list_position($raw, l.lifecycle_stage)] as stage, l.created_at as entered_at,
           cast(null as varchar) as reason
    from leads as l
    anti join mentioned as m on l.lead_id = m.lead_id
    where l.lead_id is not null
      and l.lifecycle_stage is not null
),

ranked as (
    select lead_id, stage, entered_at, reason, cast(list_position($stages, stage) - 1 as integer) as stage_rank
    from (select * from logged union all select * from placed)
    where stage is not null
      and list_position($stages, stage) is not null
      and (entered_at is null or entered_at < $until)
),

ordered as (
    select *, row_number() over (partition by lead_id
                                 order by entered_at asc nulls first, stage_rank, reason nulls last) as seq
    from ranked
),

entries as (
    select lead_id, stage, stage_rank, entered_at, reason,
           row_number() over (partition by lead_id order by seq) as seq,
           lag(stage_rank) over (partition by lead_id order by seq) as prev_rank
    from ordered
    qualify coalesce(lag(stage) over (partition by lead_id order by seq) <> stage, true)
)
"""

# One row per handoff (MQL entry): lead_id, handoff (1, 2, … per lead), mql_at, next_mql_at,
# decided_at, decided_rank (first main-ladder move off MQL), returned_at, return_reason,
# returned_from_rank (first move below MQL before the next handoff), bounced, first_touch_at.
# Extra params: $mql_rank, $main (number of main stages), $touch (activity type).
_HANDOFFS = """
with
{entries},

numbered as (
    select *, sum(case when stage_rank = $mql_rank then 1 else 0 end)
                  over (partition by lead_id order by seq rows unbounded preceding) as handoff
    from entries
),

handoffs as (
    select lead_id, handoff,
           min(entered_at) filter (where stage_rank = $mql_rank) as mql_at,
           min({{'seq': seq, 'at': entered_at, 'rank': stage_rank}})
               filter (where stage_rank <> $mql_rank and stage_rank < $main) as decision,
           min({{'seq': seq, 'at': entered_at, 'reason': reason, 'src': prev_rank}})
               filter (where stage_rank < $mql_rank) as back,
           max(stage_rank) filter (where stage_rank < $main) as top_rank
    from numbered
    where handoff > 0
    group by lead_id, handoff
),

linked as (
    select *,
           lead(mql_at) over w as next_mql_at,
           coalesce(lag(top_rank) over w > $mql_rank, false) as bounced
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
    select h.lead_id, h.handoff, h.mql_at, h.next_mql_at,
           h.decision.at as decided_at, h.decision.rank as decided_rank,
           h.back.at as returned_at, h.back.reason as return_reason, h.back.src as returned_from_rank,
           h.bounced, f.first_touch_at
    from linked as h
    left join first_touches as f on f.lead_id = h.lead_id and f.handoff = h.handoff
    where h.mql_at is not null
)

select * from final
"""


def lifecycle_entries_sql() -> str:
    """The `entries` CTEs (without WITH) of the lifecycle ladder at D; see _LIFECYCLE_ENTRIES."""
    return _LIFECYCLE_ENTRIES.strip()


def lifecycle_params(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date) -> dict:
    """The parameters of `lifecycle_entries_sql` (lifecycle_stage values mapped through the settings)."""
    stages = list(settings.ladders.lifecycle + settings.ladders.lifecycle_side)
    raw = frame(con, f"SELECT DISTINCT {quote_ident(sc.LIFECYCLE_STAGE)} AS v FROM {quote_ident(sc.LEADS.name)} "
                     f"WHERE {quote_ident(sc.LIFECYCLE_STAGE)} IS NOT NULL").get_column("v").to_list()
    raw = sorted(raw) or [""]  # a typed, never-matching list when there are no values
    return {"ladder": sc.LIFECYCLE, "stages": stages, "raw": raw,
            "placed": [settings.lifecycle_stage(v) for v in raw], "until": until(as_of)}


# ----------------------------------------------------------------------------------- handoffs


def segmentable_columns() -> tuple[str, ...]:
    """The lead columns a handoff review can be broken down by."""
    return tuple(c.name for c in sc.LEADS.columns if c.kind == sc.Kind.TEXT
                 and c.name not in (sc.LEAD_ID, sc.EMAIL, sc.NAME, sc.FIRST_NAME, sc.LAST_NAME, sc.PHONE))


def _check_by(by: str | None) -> None:
    if by is not None and by not in segmentable_columns():
        raise FunnelError(f"the handoff review cannot be broken down by {by!r}", column=by,
                          hint=f"Use one of: {', '.join(segmentable_columns())}")


def _mql_rank(settings: Settings) -> int:
    if MQL not in settings.ladders.lifecycle:
        raise FunnelError("the handoff review needs an 'mql' stage on the lifecycle ladder",
                          hint="Add mql to [ladders] lifecycle in the settings")
    return settings.ladders.lifecycle.index(MQL)


def _lead_details(con: duckdb.DuckDBPyConnection, columns: tuple[str, ...]) -> pl.DataFrame:
    """lead_id and the given leads-table columns as text (one row per lead id)."""
    wanted = list(dict.fromkeys(columns))
    selected = ", ".join(f"CAST({quote_ident(c)} AS VARCHAR) AS {quote_ident(c)}" for c in wanted)
    return frame(con, f"SELECT {quote_ident(sc.LEAD_ID)}{', ' if wanted else ''}{selected} "
                      f"FROM {quote_ident(sc.LEADS.name)} WHERE {quote_ident(sc.LEAD_ID)} IS NOT NULL "
                      f"QUALIFY row_number() OVER (PARTITION BY {quote_ident(sc.LEAD_ID)}) = 1")


def _segment_filter(con: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame | None:
    """The lead ids the filters' segment values allow (None: no segment filter)."""
    allowed = filters.segment_values()
    if not allowed:
        return None
    for dimension in allowed:
        _check_by(dimension)
    leads = _lead_details(con, tuple(allowed))
    keep = pl.lit(True)
    for dimension, values in allowed.items():
        keep = keep & pl.col(dimension).fill_null(UNKNOWN).is_in(list(values))
    return leads.filter(keep).select(sc.LEAD_ID)


def _handoffs(con: duckdb.DuckDBPyConnection, *, settings: Settings, filters: Filters) -> pl.DataFrame:
    """One row per handoff in the period with its outcome: lead_id, handoff, mql_at, outcome,
    decided_at, days_at_mql, sla_breached, first_touch_at, hours_to_touch, censored_hours, bounced,
    recycled_after_acceptance, returned_at, reason (of the return below MQL)."""
    mql_rank = _mql_rank(settings)
    as_of = filters.as_of
    params = lifecycle_params(con, settings=settings, as_of=as_of)
    params.update({"mql_rank": mql_rank, "main": len(settings.ladders.lifecycle), "touch": SALES_TOUCH})
    rows = frame(con, _HANDOFFS.format(entries=lifecycle_entries_sql()), params)
    start = datetime.combine(filters.period_start, time()) if filters.period_start else None
    rows = rows.filter(pl.col("mql_at") < until(filters.cohort_end))
    if start is not None:
        rows = rows.filter(pl.col("mql_at") >= start)
    allowed = _segment_filter(con, filters)
    if allowed is not None:
        rows = rows.join(allowed, on=sc.LEAD_ID, how="semi")

    window = settings.conversion.window_days
    sla = settings.aging.sla_days.get(MQL)
    mql_day = pl.col("mql_at").dt.date()
    days_to_decision = (pl.col("decided_at").dt.date() - mql_day).dt.total_days()
    age = (pl.lit(as_of) - mql_day).dt.total_days()
    up = pl.col("decided_rank") > mql_rank
    down = pl.col("decided_rank") < mql_rank
    outcome = (pl.when(up & (days_to_decision <= window)).then(pl.lit(ACCEPTED))
               .when(down).then(pl.lit(RECYCLED))
               .when(age > window).then(pl.lit(EXPIRED))
               .otherwise(pl.lit(PENDING)))
    days_at_mql = pl.coalesce(days_to_decision, age)
    stop = pl.coalesce(pl.col("next_mql_at"), pl.lit(until(as_of)))
    hours = 3600.0
    return rows.select(
        sc.LEAD_ID, "handoff", "mql_at",
        outcome.alias("outcome"),
        "decided_at",
        days_at_mql.cast(pl.Int64).alias("days_at_mql"),
        (days_at_mql > sla if sla is not None else pl.lit(None, dtype=pl.Boolean)).alias("sla_breached"),
        "first_touch_at",
        ((pl.col("first_touch_at") - pl.col("mql_at")).dt.total_microseconds() / 1e6 / hours).alias("hours_to_touch"),
        ((stop - pl.col("mql_at")).dt.total_microseconds() / 1e6 / hours).alias("censored_hours"),
        pl.col("bounced").fill_null(False),
        (up & pl.col("returned_at").is_not_null()).fill_null(False).alias("recycled_after_acceptance"),
        "returned_at",
        pl.when(pl.col("returned_at").is_not_null())
        .then(pl.col("return_reason").fill_null(NO_REASON)).alias(sc.REASON),
        pl.when(pl.col("returned_at").is_null()).then(None)
        .when(pl.col("returned_from_rank") > mql_rank).then(pl.lit("after_acceptance"))
        .otherwise(pl.lit("rejected_at_mql")).alias("returned_from"),
    ).sort(sc.LEAD_ID, "handoff")


def _with_segment(con: duckdb.DuckDBPyConnection, rows: pl.DataFrame, by: str | None) -> pl.DataFrame:
    if by is None:
        return rows.with_columns(pl.lit(None, dtype=pl.String).alias("segment"))
    leads = _lead_details(con, (by,))
    return (rows.join(leads, on=sc.LEAD_ID, how="left")
            .with_columns(pl.col(by).fill_null(UNKNOWN).alias("segment")).drop(by))


def _counts(rows: pl.DataFrame, keys: list[str], *, sla_set: bool) -> pl.DataFrame:
    outcome = pl.col("outcome")
    aggs = [
        pl.len().cast(pl.Int64).alias("mqls"),
        pl.col(sc.LEAD_ID).n_unique().cast(pl.Int64).alias("leads"),
        *[(outcome == name).sum().cast(pl.Int64).alias(name) for name in OUTCOMES],
        pl.col("first_touch_at").is_not_null().sum().cast(pl.Int64).alias("touched"),
        pl.col("first_touch_at").is_null().sum().cast(pl.Int64).alias("untouched"),
        (pl.col("sla_breached").sum().cast(pl.Int64) if sla_set else pl.lit(None, dtype=pl.Int64)).alias("sla_breaches"),
        pl.col("bounced").sum().cast(pl.Int64).alias("bounced"),
        pl.col("recycled_after_acceptance").sum().cast(pl.Int64).alias("recycled_after_acceptance"),
    ]
    if keys:
        return rows.group_by(keys).agg(aggs)
    return rows.select(aggs)


def _speed(rows: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Kaplan–Meier median and p90 hours to the first sales touch (untouched handoffs censored)."""
    timed = rows.select(
        *keys,
        pl.coalesce("hours_to_touch", "censored_hours").clip(lower_bound=0.0).alias("hours"),
        pl.col("first_touch_at").is_not_null().alias("touched_flag"),
    )
    quantiles = km_quantiles_frame(timed, duration="hours", observed="touched_flag", by=keys or None,
                                   quantiles=(0.5, 0.9))
    return quantiles.select(*keys, pl.col("p50").alias("speed_to_lead_median_hours"),
                            pl.col("p90").alias("speed_to_lead_p90_hours"))


def _review_rows(rows: pl.DataFrame, keys: list[str], *, sla_set: bool) -> pl.DataFrame:
    counts = _counts(rows, keys, sla_set=sla_set)
    if rows.is_empty():
        return counts.with_columns(pl.lit(None, dtype=pl.Float64).alias("speed_to_lead_median_hours"),
                                   pl.lit(None, dtype=pl.Float64).alias("speed_to_lead_p90_hours"))
    speed = _speed(rows, keys)
    return counts.join(speed, on=keys, how="left") if keys else pl.concat([counts, speed], how="horizontal")


def _with_rates(counts: pl.DataFrame, *, min_sample: int) -> pl.DataFrame:
    rates, lows, highs, smalls = [], [], [], []
    for accepted, recycled, expired in counts.select(ACCEPTED, RECYCLED, EXPIRED).iter_rows():
        trials = accepted + recycled + expired
        low, high = wilson_interval(accepted, trials)
        rates.append(accepted / trials if trials else None)
        lows.append(low)
        highs.append(high)
        smalls.append(small_sample(trials, accepted, min_trials=min_sample))
    return counts.with_columns(
        pl.Series("acceptance_rate", rates, dtype=pl.Float64),
        pl.Series("acceptance_low", lows, dtype=pl.Float64),
        pl.Series("acceptance_high", highs, dtype=pl.Float64),
        pl.Series("small_sample", smalls, dtype=pl.Boolean),
    )


def handoff_review(con: duckdb.DuckDBPyConnection, *, settings: Settings, filters: Filters,
                   by: str | None = None) -> pl.DataFrame:
    """One row per segment value of `by` (a leads column) plus a total row (segment null, first):
    MQL handoffs in the period, their outcomes at D, acceptance rate with its Wilson interval,
    speed-to-lead (Kaplan–Meier median and p90 hours), SLA breaches, bounces and later recycles."""
    _check_by(by)
    rows = _with_segment(con, _handoffs(con, settings=settings, filters=filters), by)
    sla_set = MQL in settings.aging.sla_days
    total = _review_rows(rows, [], sla_set=sla_set).with_columns(pl.lit(None, dtype=pl.String).alias("segment"))
    parts = [total]
    if by is not None and rows.height:
        segments = _review_rows(rows, ["segment"], sla_set=sla_set).sort(
            ["mqls", "segment"], descending=[True, False])
        parts.append(segments)
    empty = pl.DataFrame(schema={k: v for k, v in REVIEW_SCHEMA.items()
                                 if k not in ("acceptance_rate", "acceptance_low", "acceptance_high", "small_sample")})
    combined = pl.concat([empty, *[p.select(empty.columns).cast(empty.schema) for p in parts]], how="vertical")
    combined = _with_rates(combined, min_sample=settings.segments.min_sample)
    return combined.select([pl.col(c).cast(t) for c, t in REVIEW_SCHEMA.items()])


def recycle_reasons(con: duckdb.DuckDBPyConnection, *, settings: Settings, filters: Filters) -> pl.DataFrame:
    """One row per reason a handoff of the period came back below MQL by D (before any new handoff),
    most frequent first: reason, leads (handoffs), share of all returns, rejected_at_mql (sent
    straight back) and after_acceptance (came back from SQL or later). Empty reasons are "(no
    reason given)"."""
    rows = _handoffs(con, settings=settings, filters=filters).filter(pl.col("returned_at").is_not_null())
    if rows.is_empty():
        return pl.DataFrame(schema=REASONS_SCHEMA)
    counted = rows.group_by(sc.REASON).agg(
        pl.len().cast(pl.Int64).alias("leads"),
        (pl.col("returned_from") == "rejected_at_mql").sum().cast(pl.Int64).alias("rejected_at_mql"),
        (pl.col("returned_from") == "after_acceptance").sum().cast(pl.Int64).alias("after_acceptance"),
    )
    total = int(counted.get_column("leads").sum())
    return (counted.with_columns((pl.col("leads") / total).alias("share"))
            .sort(["leads", sc.REASON], descending=[True, False])
            .select([pl.col(c).cast(t) for c, t in REASONS_SCHEMA.items()]))


def handoff_leads(con: duckdb.DuckDBPyConnection, *, settings: Settings, filters: Filters, kind: str,
                  by: str | None = None, segment: str | None = None) -> pl.DataFrame:
    """One row per handoff behind a count of `handoff_review` (kind: pending, breached, recycled,
    bounced, untouched, accepted or expired), oldest MQL entry first, with the lead's name, e-mail,
    company, source, owner, current lifecycle stage and status; `by`/`segment` narrow it to one
    row of a broken-down review ("(unknown)" for an empty value; segment None = all)."""
    if kind not in KINDS:
        raise FunnelError(f"there is no handoff list called {kind!r}", hint=f"Use one of: {', '.join(KINDS)}")
    _check_by(by)
    rows = _handoffs(con, settings=settings, filters=filters)
    chosen = {
        "pending": pl.col("outcome") == PENDING,
        "accepted": pl.col("outcome") == ACCEPTED,
        "expired": pl.col("outcome") == EXPIRED,
        "recycled": pl.col("outcome") == RECYCLED,
        "breached": pl.col("sla_breached").fill_null(False),
        "bounced": pl.col("bounced"),
        "untouched": pl.col("first_touch_at").is_null(),
    }[kind]
    rows = rows.filter(chosen)
    details = _lead_details(con, LEAD_COLUMNS + ((by,) if by and by not in LEAD_COLUMNS else ()))
    rows = rows.join(details, on=sc.LEAD_ID, how="left")
    if by is not None and segment is not None:
        rows = rows.filter(pl.col(by).fill_null(UNKNOWN) == segment)
    return rows.sort("mql_at", sc.LEAD_ID).select(
        sc.LEAD_ID, *LEAD_COLUMNS, "mql_at", "outcome", "decided_at", "days_at_mql", "sla_breached",
        "first_touch_at", pl.col("hours_to_touch").round(1), "bounced", "recycled_after_acceptance",
        "returned_at", "returned_from", sc.REASON,
    )

