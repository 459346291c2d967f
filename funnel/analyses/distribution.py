"""Stage distribution at D, its monthly trend, and the flows between stages.

A lead counts at D when it was created (or entered a stage) on or before day D; it is in the stage
of its latest entry at or before D (same timestamp: the higher stage), or in no stage yet (stage
null) when it has no entry. Every breakdown sums to the leads at D.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import duckdb
import polars as pl

from funnel import schema as sc
from funnel.analyses.inputs import SEG, AnalysisInputs, analysis_inputs, with_total
from funnel.config import Settings
from funnel.filters import Filters
from funnel.stats import rate_or_null

__all__ = [
    "current_stages_of",
    "distribution_counts",
    "distribution_rows",
    "distribution_trend",
    "distribution_trend_of",
    "flow_counts",
    "flow_rows",
    "month_ends",
    "stage_distribution",
    "stage_distribution_of",
    "stage_flows",
    "stage_flows_of",
    "trend_counts",
    "trend_rows",
]


def stage_distribution(con: duckdb.DuckDBPyConnection, filters: Filters, *, settings: Settings,
                       by: str | Sequence[str] | None = None, history: pl.DataFrame | None = None,
                       leads: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per stage (and segment): stage (null = no stage yet), leads, share; total rows first
    (segment columns null). See `stage_distribution_of`."""
    inputs = analysis_inputs(con, filters, settings=settings, by=by, history=history, leads=leads)
    return stage_distribution_of(inputs)


def current_stages_of(inputs: AnalysisInputs) -> pl.DataFrame:
    """One row per lead at D: lead_id, seg_key, stage_rank (null = no stage yet), is_side,
    entered_at, reason, basis."""
    return inputs.population.select(sc.LEAD_ID, SEG, "stage_rank", "is_side", sc.ENTERED_AT, sc.REASON, "basis")


def stage_distribution_of(inputs: AnalysisInputs) -> pl.DataFrame:
    """One row per stage of the ladder (main stages, side states, then stage null for leads with
    no stage yet) and segment: leads, share (of the segment's leads; null when it has none)."""
    return distribution_rows(inputs, distribution_counts(inputs))


def distribution_counts(inputs: AnalysisInputs) -> pl.DataFrame:
    """seg_key, stage_rank, leads: the leads at D per segment and stage (counts that add up over groups of
    leads: see funnel.analyses.partials)."""
    return inputs.population.group_by(SEG, "stage_rank").agg(pl.len().cast(pl.Int64).alias("leads"))


def distribution_rows(inputs: AnalysisInputs, counts: pl.DataFrame, *, extra: Sequence[str] = ()) -> pl.DataFrame:
    """Counts per (seg_key, [extra], stage_rank) completed with zero rows, the total added, shares."""
    ranks = pl.DataFrame({"stage_rank": list(range(len(inputs.stage_names))) + [None]},
                         schema={"stage_rank": pl.Int32})
    counts = with_total(counts, keys=[*extra, "stage_rank"])
    spine = inputs.segment_spine().join(ranks, how="cross")
    if extra:
        spine = counts.select(extra).unique().join(spine, how="cross")
    keys = [SEG, *extra, "stage_rank"]
    rows = (
        spine.join(counts, on=keys, how="left", nulls_equal=True)
        .with_columns(pl.col("leads").fill_null(0).cast(pl.Int64))
        .with_columns(rate_or_null(pl.col("leads"), pl.col("leads").sum().over(SEG, *extra)).alias("share"))
        .with_columns(pl.col(SEG).is_null().alias("_total"), pl.col("stage_rank").is_null().alias("_unstaged"))
        .sort(["_total", SEG, *extra, "_unstaged", "stage_rank"], descending=[True, False] + [False] * (len(extra) + 2),
              nulls_last=True)
        .select(SEG, *extra, inputs.stage_column("stage_rank", "stage"), "leads", "share")
    )
    return inputs.with_segments(rows)


def month_ends(first: date | None, as_of: date) -> list[date]:
    """Every month end from the month of `first` that falls before D, then D itself."""
    points: list[date] = []
    if first is not None and first <= as_of:
        year, month = first.year, first.month
        while True:
            nxt = date(year + (month == 12), month % 12 + 1, 1)
            end = nxt - timedelta(days=1)
            if end >= as_of:
                break
            points.append(end)
            year, month = nxt.year, nxt.month
    points.append(as_of)
    return points


def distribution_trend(con: duckdb.DuckDBPyConnection, filters: Filters, *, settings: Settings,
                       by: str | Sequence[str] | None = None, history: pl.DataFrame | None = None,
                       leads: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per month end (then D), stage and segment: date, stage, leads, share. See
    `distribution_trend_of`."""
    inputs = analysis_inputs(con, filters, settings=settings, by=by, history=history, leads=leads)
    return distribution_trend_of(inputs)


def distribution_trend_of(inputs: AnalysisInputs) -> pl.DataFrame:
    """The distribution at each month end up to D and at D: one row per date, stage (null = no
    stage yet) and segment, with leads and share. Leads without any date are left out."""
    return trend_rows(inputs, trend_counts(inputs))


def trend_counts(inputs: AnalysisInputs) -> pl.DataFrame:
    """seg_key, stage_rank (null: no stage yet), date, delta: how many leads came into the stage (+1 each) and
    left it (−1 each) by each point of the trend, a day counting at the first point on or after it: its month's
    end, or D when that is not before D (counts that add up over groups of leads: see funnel.analyses.partials)."""

    def point(column: str) -> pl.Expr:
        return pl.min_horizontal(pl.col(column).dt.date().dt.month_end(), pl.lit(inputs.as_of)).alias("date")

    timeline = inputs.timeline.lazy().select(SEG, "stage_rank", sc.ENTERED_AT, "next_at").filter(
        pl.col(sc.ENTERED_AT).is_not_null())
    unstaged = pl.lit(None, dtype=pl.Int32).alias("stage_rank")
    population = inputs.population.lazy().select(SEG, "first_seen", "first_entered_at")
    steps = pl.concat([
        timeline.select(SEG, "stage_rank", point(sc.ENTERED_AT), pl.lit(1).alias("delta")),
        timeline.filter(pl.col("next_at").is_not_null()).select(SEG, "stage_rank", point("next_at"),
                                                                 pl.lit(-1).alias("delta")),
        population.filter(pl.col("first_seen").is_not_null()).select(SEG, unstaged, point("first_seen"),
                                                                      pl.lit(1).alias("delta")),
        population.filter(pl.col("first_entered_at").is_not_null()).select(SEG, unstaged, point("first_entered_at"),
                                                                           pl.lit(-1).alias("delta")),
    ])
    return steps.group_by(SEG, "stage_rank", "date").agg(pl.col("delta").sum().cast(pl.Int64)).collect()


def trend_rows(inputs: AnalysisInputs, deltas: pl.DataFrame) -> pl.DataFrame:
    """`distribution_trend_of` from its counts (`trend_counts`): the points run from the earliest one counted
    (the month of the first lead seen) to D, and each stage's leads at a point are its deltas summed up to it."""
    spine = pl.DataFrame({"date": month_ends(deltas.get_column("date").min(), inputs.as_of)},
                         schema={"date": pl.Date})
    counts = (
        deltas.select(SEG, "stage_rank").unique().join(spine, how="cross")
        .join(deltas, on=[SEG, "stage_rank", "date"], how="left", nulls_equal=True)
        .sort(SEG, "stage_rank", "date", nulls_last=True)
        .with_columns(pl.col("delta").fill_null(0).cum_sum().over(SEG, "stage_rank").cast(pl.Int64).alias("leads"))
        .select(SEG, "date", "stage_rank", "leads")
    )
    return distribution_rows(inputs, counts, extra=("date",))


def stage_flows(con: duckdb.DuckDBPyConnection, filters: Filters, *, settings: Settings,
                history: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per move between stages in the cohort period. See `stage_flows_of`."""
    return stage_flows_of(analysis_inputs(con, filters, settings=settings, history=history))


def stage_flows_of(inputs: AnalysisInputs) -> pl.DataFrame:
    """How leads moved, for a Sankey: from_stage (null = the lead's first entry), to_stage, direction
    (start, up, down = recycled, side = to a side state, back = from a side state onto the ladder),
    moves (entries), leads (distinct leads). Dated entries whose day lies in the cohort period."""
    return flow_rows(inputs, flow_counts(inputs))


def flow_counts(inputs: AnalysisInputs) -> pl.DataFrame:
    """prev_rank, stage_rank, direction, moves, leads: the moves of `stage_flows_of` over every segment (counts
    that add up over groups of leads, a lead's moves never in two: see funnel.analyses.partials)."""
    return (
        inputs.timeline.filter(pl.col(sc.ENTERED_AT).is_not_null() & inputs.in_period(sc.ENTERED_AT))
        .with_columns(
            pl.when(pl.col("prev_rank").is_null()).then(pl.lit("start"))
            .when(pl.col("is_side")).then(pl.lit("side"))
            .when(pl.col("prev_side")).then(pl.lit("back"))
            .when(pl.col("stage_rank") > pl.col("prev_rank")).then(pl.lit("up"))
            .otherwise(pl.lit("down")).alias("direction"))
        .group_by("prev_rank", "stage_rank", "direction")
        .agg(pl.len().cast(pl.Int64).alias("moves"), pl.col("lead_index").n_unique().cast(pl.Int64).alias("leads"))
    )


def flow_rows(inputs: AnalysisInputs, counts: pl.DataFrame) -> pl.DataFrame:
    """`stage_flows_of` from its counts (`flow_counts`)."""
    return counts.sort("prev_rank", "stage_rank", nulls_last=False).select(
        inputs.stage_column("prev_rank", "from_stage"), inputs.stage_column("stage_rank", "to_stage"), "direction",
        "moves", "leads")
