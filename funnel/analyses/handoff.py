"""The marketing → sales handoff: were MQLs accepted, how fast were they touched, what came back and why.

The unit is a **handoff**: one entry into MQL on the lifecycle ladder, exactly as the MQL → SQL step
of the conversion analysis counts it (funnel.analyses.conversion): dated moves from the stage log
only (a lead placed at MQL from its current stage alone is no handoff), and, under the "implicit"
skipped-stage policy, a jump from below MQL to above it counts as an entry into MQL, accepted at
once ("strict" leaves out a handoff whose acceptance skips SQL). A lead that returns to MQL starts a
new handoff, so a lead can count twice (the `leads` column counts people). Everything is as of a
day D (the end of day D counts).

Each handoff's outcome at D is the conversion step's outcome, under the handoff's names, so the
acceptance rate here is the Conversion page's MQL → SQL rate on the same filters:

- **accepted** (advanced): the lead's next entry is up the main ladder at most W days after the
  MQL entry (W = `conversion.window_days`, whole calendar days);
- **recycled** (lost): the next entry is back down (lead, subscriber) or a side state, at most W days after;
- **expired**: neither within W days, and more than W days have passed at D;
- **pending** (open): neither yet, and at most W days have passed.

acceptance rate = accepted / (accepted + recycled + expired); pending handoffs are shown, not failed.

Also per handoff: **SLA breach** when it sat at MQL (until its next entry, or until D) more than
`aging.sla_days["mql"]` days; **speed-to-lead** from the MQL entry to the first `sales_touch`
activity before the lead's next handoff (Kaplan–Meier: a handoff never touched is censored at D,
or at its next handoff); **bounced** when it is an entry into MQL after an earlier handoff of the
lead went above MQL (ping-pong); **recycled after acceptance** when its first move was up and it
later returned below MQL (before any new handoff); the **reason** of a return below MQL.

Segments (`by`) and segment filters are lead-frame columns (funnel.model.history.lead_frame), as
for the conversion analysis: the current value, not the value at the time.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import duckdb
import polars as pl

from funnel import schema as sc
from funnel.analyses.conversion import conversion_entries_of, deal_losses
from funnel.analyses.inputs import SEG, AnalysisInputs, analysis_inputs, conversion_policy
from funnel.config import Settings
from funnel.errors import FunnelError
from funnel.filters import Filters, until
from funnel.model.history import lead_rows_of, lifecycle_entries_sql, lifecycle_params
from funnel.stats import km_quantiles_frame, with_rate
from funnel.store.db import frame
from funnel.store.queries import bound_params, sql_text

__all__ = [
    "KINDS",
    "NO_REASON",
    "OUTCOMES",
    "REVIEW_SCHEMA",
    "handoff_leads",
    "handoff_passes",
    "handoff_review",
    "handoff_rows",
    "handoff_rows_of",
    "recycle_reasons",
    "segmentable_columns",
    "until",
]

MQL = "mql"  # the lifecycle stage whose entry is the handoff
SALES_TOUCH = "sales_touch"  # the activity type that counts as a sales touch
assert MQL in sc.LIFECYCLE_STAGES and SALES_TOUCH in sc.CANONICAL_ACTIVITY_TYPES

ACCEPTED, RECYCLED, EXPIRED, PENDING = "accepted", "recycled", "expired", "pending"
OUTCOMES = (ACCEPTED, RECYCLED, EXPIRED, PENDING)
# The conversion step's outcomes under the handoff's names: one classification feeds both analyses.
CONVERSION_OUTCOMES = {"advanced": ACCEPTED, "lost": RECYCLED, "expired": EXPIRED, "open": PENDING}
# The lists behind the counts of `handoff_review`.
KINDS = ("pending", "breached", "recycled", "bounced", "untouched", "accepted", "expired")
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
    "acceptance_rate_lo": pl.Float64(),
    "acceptance_rate_hi": pl.Float64(),
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


def handoff_rows(con: duckdb.DuckDBPyConnection, *, settings: Settings, filters: Filters,
                 by: str | None = None) -> pl.DataFrame:
    """One row per handoff in the period with its outcome: lead_id, segment (the `by` value; null
    without `by`), handoff, mql_at, outcome, decided_at, days_at_mql, sla_breached, first_touch_at,
    hours_to_touch, censored_hours, bounced, recycled_after_acceptance, returned_at, reason (of the
    return below MQL), returned_from. What `handoff_review`, `recycle_reasons` and `handoff_leads` read: a
    caller showing several of them computes it once and passes it as `rows`."""
    _mql_rank(settings)  # no MQL stage on the ladder: said before anything is read
    _check_by(by)
    for dimension in filters.segment_values():
        _check_by(dimension)
    inputs = analysis_inputs(con, replace(filters, ladder=sc.LIFECYCLE), settings=settings, by=by)
    return handoff_rows_of(inputs, handoff_passes(con, settings=settings, as_of=filters.as_of),
                           deal_losses(con, as_of=filters.as_of), by=by)


def handoff_passes(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date) -> pl.DataFrame:
    """Every pass through MQL as of D with what the review knows of it besides its outcome (handoffs.sql). It
    depends on D and the settings only, not on the cohort period or the segments: a caller reviewing several
    periods or breakdowns at one D (the monthly review, the Handoff page) reads it once."""
    _, implicit = conversion_policy(settings, None, None)
    params = lifecycle_params(settings, as_of=as_of) | {
        "mql_rank": _mql_rank(settings), "main": len(settings.ladders.lifecycle), "implicit": implicit,
        "touch": SALES_TOUCH}
    sql = sql_text("handoffs", fragments={"lifecycle_entries": lifecycle_entries_sql(con, settings)})
    return frame(con, sql, bound_params(sql, params))


def handoff_rows_of(inputs: AnalysisInputs, passes: pl.DataFrame, losses: pl.DataFrame, *,
                    by: str | None = None) -> pl.DataFrame:
    """`handoff_rows` of prepared inputs on the lifecycle ladder (their filters' period and segments), the passes
    at their D (`handoff_passes`) and the deal losses at D (`deal_losses`)."""
    settings, as_of = inputs.settings, inputs.as_of
    mql_rank = _mql_rank(settings)
    steps = conversion_entries_of(inputs, losses)
    entries = steps.filter((pl.col("stage_rank") == mql_rank) & (pl.col("outcome") != "excluded")).select(
        pl.lit(inputs.lead_ids).gather(pl.col("lead_index")).alias(sc.LEAD_ID), SEG,
        pl.col(sc.ENTERED_AT).alias("mql_at"), "implied",
        pl.col("outcome").cast(pl.String).replace_strict(CONVERSION_OUTCOMES).alias("outcome"), "decided_at")
    keys = [sc.LEAD_ID, "mql_at", "implied"]
    rows = entries.join(passes.sort(sc.LEAD_ID, "handoff").unique(keys, keep="first", maintain_order=True),
                        on=keys, how="left")
    if by is None:
        rows = rows.with_columns(pl.lit(None, dtype=pl.String).alias("segment"))
    else:
        rows = rows.join(inputs.segments.select(SEG, pl.col(by).cast(pl.String).alias("segment")), on=SEG, how="left")

    sla = settings.aging.sla_days.get(MQL)
    mql_day = pl.col("mql_at").dt.date()
    age = (pl.lit(as_of) - mql_day).dt.total_days()
    days_at_mql = pl.coalesce((pl.col("moved_at").dt.date() - mql_day).dt.total_days(), age)
    stop = pl.coalesce(pl.col("next_mql_at"), pl.lit(until(as_of)))
    returned = pl.col("returned_at").is_not_null()
    hours = 3600.0
    return rows.select(
        sc.LEAD_ID, "segment", "handoff", "mql_at", "outcome", "decided_at",
        days_at_mql.cast(pl.Int64).alias("days_at_mql"),
        (days_at_mql > sla if sla is not None else pl.lit(None, dtype=pl.Boolean)).alias("sla_breached"),
        "first_touch_at",
        ((pl.col("first_touch_at") - pl.col("mql_at")).dt.total_microseconds() / 1e6 / hours).alias("hours_to_touch"),
        ((stop - pl.col("mql_at")).dt.total_microseconds() / 1e6 / hours).alias("censored_hours"),
        pl.col("bounced").fill_null(False),
        (pl.col("moved_up") & returned).fill_null(False).alias("recycled_after_acceptance"),
        "returned_at",
        pl.when(returned).then(pl.col("return_reason").fill_null(NO_REASON)).alias(sc.REASON),
        pl.when(returned).then(pl.when(pl.col("moved_up")).then(pl.lit("after_acceptance"))
                               .otherwise(pl.lit("rejected_at_mql"))).alias("returned_from"),
    ).sort(sc.LEAD_ID, "handoff")


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


def handoff_review(con: duckdb.DuckDBPyConnection, *, settings: Settings, filters: Filters,
                   by: str | None = None, rows: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per segment value of `by` (a leads column) plus a total row (segment null, first):
    MQL handoffs in the period, their outcomes at D, acceptance rate with its Wilson interval,
    speed-to-lead (Kaplan–Meier median and p90 hours), SLA breaches, bounces and later recycles. `rows` is
    `handoff_rows` with the same filters and `by` when the caller has it."""
    if rows is None:
        rows = handoff_rows(con, settings=settings, filters=filters, by=by)
    sla_set = MQL in settings.aging.sla_days
    total = _review_rows(rows, [], sla_set=sla_set).with_columns(pl.lit(None, dtype=pl.String).alias("segment"))
    parts = [total]
    if by is not None and rows.height:
        segments = _review_rows(rows, ["segment"], sla_set=sla_set).sort(
            ["mqls", "segment"], descending=[True, False])
        parts.append(segments)
    empty = pl.DataFrame(schema={k: v for k, v in REVIEW_SCHEMA.items()
                                 if k not in ("acceptance_rate", "acceptance_rate_lo", "acceptance_rate_hi", "small_sample")})
    combined = pl.concat([empty, *[p.select(empty.columns).cast(empty.schema) for p in parts]], how="vertical")
    combined = with_rate(combined.with_columns((pl.col(ACCEPTED) + pl.col(RECYCLED) + pl.col(EXPIRED)).alias("_decided")),
                         successes=ACCEPTED, trials="_decided", name="acceptance_rate",
                         min_trials=settings.segments.min_sample)
    return combined.select([pl.col(c).cast(t) for c, t in REVIEW_SCHEMA.items()])


def recycle_reasons(con: duckdb.DuckDBPyConnection, *, settings: Settings, filters: Filters,
                    rows: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per reason a handoff of the period came back below MQL by D (before any new handoff),
    most frequent first: reason, leads (handoffs), share of all returns, rejected_at_mql (sent
    straight back) and after_acceptance (came back from SQL or later). Empty reasons are "(no
    reason given)". `rows` is `handoff_rows` of these filters (broken down by any segment, or none)."""
    if rows is None:
        rows = handoff_rows(con, settings=settings, filters=filters)
    rows = rows.filter(pl.col("returned_at").is_not_null())
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
                  by: str | None = None, segment: str | None = None, rows: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per handoff behind a count of `handoff_review` (kind: pending, breached, recycled,
    bounced, untouched, accepted or expired), oldest MQL entry first, with the lead's name, e-mail,
    company, source, owner, current lifecycle stage and status; `by`/`segment` narrow it to one
    row of a broken-down review ("(unknown)" for an empty value; segment None = all). `rows` is
    `handoff_rows` with the same filters and `by` when the caller has it."""
    if kind not in KINDS:
        raise FunnelError(f"there is no handoff list called {kind!r}", hint=f"Use one of: {', '.join(KINDS)}")
    if rows is None:
        rows = handoff_rows(con, settings=settings, filters=filters, by=by)
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
    if by is not None and segment is not None:
        rows = rows.filter(pl.col("segment") == segment)
    details = lead_rows_of(con, rows.get_column(sc.LEAD_ID), LEAD_COLUMNS)
    rows = rows.join(details.select(sc.LEAD_ID, *[pl.col(c).cast(pl.String) for c in LEAD_COLUMNS]), on=sc.LEAD_ID,
                     how="left")
    return rows.sort("mql_at", sc.LEAD_ID).select(
        sc.LEAD_ID, *LEAD_COLUMNS, "mql_at", "outcome", "decided_at", "days_at_mql", "sla_breached",
        "first_touch_at", pl.col("hours_to_touch").round(1), "bounced", "recycled_after_acceptance",
        "returned_at", "returned_from", sc.REASON,
    )

