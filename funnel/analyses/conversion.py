"""Stage-to-stage conversion: the outcome at D of every entry into a stage, and its views (next
step, cumulative from the first stage, monthly cohorts, the previous period, time to convert).

The cohort of a step k → k+1 is the entries into stage k whose day lies in the cohort period
[period_start, cohort_end] (default: every entry at or before D). Each entry has exactly one
outcome at D, decided by the first thing that happens after it:

* **advanced**: the lead's next entry is a higher main stage, at most W days (calendar days) after
  the entry;
* **lost** (recycled or lost): the lead's next entry is a lower stage (recycled to nurture) or a side
  state (former customer, reactivation), or, at the opportunity stage, its last open deal closed
  lost — at most W days after the entry;
* **expired**: neither happened within W days, and more than W days have passed at D;
* **open**: neither happened yet, and at most W days have passed at D.

rate = advanced / (advanced + lost + expired); null when nothing is decided. Open entries are shown,
never counted as failures. Skipped stages: "implicit" (default) counts a jump from k to k+j as
entering k+1 … k+j−1 at that moment, advanced at once (`implied` counts them); "strict" leaves an
entry whose advance skips the next stage out of that step (`excluded`, not part of `entered`).
Entries placed from the current stage alone are not moves and form no cohort.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta

import duckdb
import polars as pl

from funnel import schema as sc
from funnel.analyses.inputs import (
    SEG,
    AnalysisInputs,
    analysis_inputs,
    conversion_policy,
    entered_masks,
    has_rank_bit,
    moves_known,
    with_total,
)
from funnel.config import Settings
from funnel.errors import FunnelError
from funnel.filters import Filters, until
from funnel.stats import kaplan_meier_of_risks, km_quantiles_of_risks, km_risk_table, rate_or_null, with_rate
from funnel.store.db import frame
from funnel.store.queries import sql_text

__all__ = [
    "ALL_OUTCOMES",
    "OUTCOMES",
    "cohort_counts",
    "conversion_cohorts",
    "conversion_cohorts_of",
    "conversion_entries_of",
    "convert_risks",
    "cumulative_conversion",
    "cumulative_conversion_of",
    "cumulative_counts",
    "cumulative_rows",
    "curve_rows",
    "deal_losses",
    "deal_losses_query",
    "pair_ranks",
    "previous_period",
    "stage_conversion",
    "stage_conversion_of",
    "step_counts",
    "step_rows",
    "time_to_convert",
    "time_to_convert_curve",
    "time_to_convert_curve_of",
    "time_to_convert_of",
    "time_to_convert_rows",
]

OUTCOMES = ("advanced", "lost", "expired", "open")
ALL_OUTCOMES = (*OUTCOMES, "excluded")  # excluded: left out of a step by the strict skipped-stage policy
OUTCOME_TYPE = pl.Enum(list(ALL_OUTCOMES))
OPPORTUNITY = "opportunity"


def deal_losses(con: duckdb.DuckDBPyConnection, *, as_of: date) -> pl.DataFrame:
    """lead_id, lost_at, lost_reason: each moment a lead's last open deal closed lost, by D."""
    return frame(con, *deal_losses_query(as_of))


def deal_losses_query(as_of: date) -> tuple[str, dict]:
    """The query (SQL and parameters) of `deal_losses`."""
    return sql_text("deal_losses"), {"until": until(as_of)}


def conversion_entries_of(inputs: AnalysisInputs, losses: pl.DataFrame, *, window_days: int | None = None,
                          skipped: str | None = None) -> pl.DataFrame:
    """One row per cohort entry: lead_index (see `AnalysisInputs.timeline`), seg_key, stage_rank (the
    from stage), entered_at, implied, outcome (advanced, lost, expired, open, or excluded under the
    strict policy), decided_at, days_to_decision, next_rank (the stage entered when decided by an
    entry), reason (why lost)."""
    window, implicit = conversion_policy(inputs.settings, window_days, skipped)
    n_main = len(inputs.main_stages)
    moves = inputs.timeline.lazy().select(
        "lead_index", SEG, "stage_rank", "is_side", sc.ENTERED_AT, "basis", "prev_rank", "prev_side",
        "next_rank", "next_side", "next_at", "next_reason").filter(moves_known())
    columns = ["lead_index", SEG, "stage_rank", sc.ENTERED_AT, "implied", "next_rank", "next_side", "next_at",
               "next_reason"]
    parts = [moves.filter(~pl.col("is_side") & (pl.col("stage_rank") < n_main - 1))
             .with_columns(pl.lit(False).alias("implied")).select(columns)]
    if implicit:
        parts.append(
            moves.filter(~pl.col("is_side") & ~pl.col("prev_side").fill_null(True)
                         & (pl.col("stage_rank") > pl.col("prev_rank") + 1))
            .select("lead_index", SEG, sc.ENTERED_AT,
                    pl.int_ranges(pl.col("prev_rank") + 1, pl.col("stage_rank"), dtype=pl.Int32).alias("stage_rank"))
            .explode("stage_rank")
            .with_columns(pl.lit(True).alias("implied"), (pl.col("stage_rank") + 1).alias("next_rank"),
                          pl.lit(False).alias("next_side"), pl.col(sc.ENTERED_AT).alias("next_at"),
                          pl.lit(None, dtype=pl.String).alias("next_reason"))
            .select(columns))
    cohort = pl.concat(parts, how="vertical_relaxed").filter(inputs.in_period(sc.ENTERED_AT)).collect()
    cohort = _with_deal_losses(inputs, cohort, losses)

    event_days = (pl.col("_event_at").dt.date() - pl.col(sc.ENTERED_AT).dt.date()).dt.total_days()
    by_deal = pl.col("lost_at").is_not_null()
    advanced = ~by_deal & ~pl.col("next_side") & (pl.col("next_rank") > pl.col("stage_rank"))
    skipping = advanced & (pl.col("next_rank") > pl.col("stage_rank") + 1)
    code = (pl.when(~pl.col("_in")).then(pl.when(inputs.days_to_as_of(sc.ENTERED_AT) > window).then(2).otherwise(3))
            .when(advanced).then(4 if not implicit else 0).otherwise(1))
    code = code if implicit else pl.when(pl.col("_in") & advanced & ~skipping).then(0).otherwise(code)
    return (
        cohort.lazy()
        .with_columns(pl.coalesce("lost_at", "next_at").alias("_event_at"))
        .with_columns((pl.col("_event_at").is_not_null() & (event_days <= window)).alias("_in"))
        .with_columns(
            pl.lit(pl.Series(list(ALL_OUTCOMES), dtype=OUTCOME_TYPE)).gather(code).alias("outcome"),
            pl.when(pl.col("_in")).then(pl.col("_event_at")).alias("decided_at"),
            pl.when(pl.col("_in")).then(event_days).alias("days_to_decision"),
            pl.when(pl.col("_in") & ~by_deal).then(pl.col("next_rank")).alias("next_rank"),
            pl.when(pl.col("_in") & ~advanced).then(pl.coalesce("lost_reason", "next_reason")).alias("reason"),
        )
        .select("lead_index", SEG, "stage_rank", sc.ENTERED_AT, "implied", "outcome", "decided_at",
                "days_to_decision", "next_rank", "reason")
        .collect()
    )


def _with_deal_losses(inputs: AnalysisInputs, cohort: pl.DataFrame, losses: pl.DataFrame) -> pl.DataFrame:
    """lost_at/lost_reason: the first deal loss after an opportunity entry and before its next entry."""
    empty = cohort.with_columns(pl.lit(None, dtype=pl.Datetime("us")).alias("lost_at"),
                                pl.lit(None, dtype=pl.String).alias("lost_reason"))
    if OPPORTUNITY not in inputs.main_stages or losses.is_empty():
        return empty
    opportunity = inputs.main_stages.index(OPPORTUNITY)
    at_opportunity = cohort.filter(pl.col("stage_rank") == opportunity)
    if at_opportunity.is_empty():
        return empty
    ids = inputs.lead_ids
    matched = (
        at_opportunity.select("lead_index", sc.ENTERED_AT, "next_at")
        .with_columns(pl.lit(ids).gather(pl.col("lead_index")).alias(sc.LEAD_ID))
        .sort(sc.ENTERED_AT)
        .join_asof(losses.select(sc.LEAD_ID, "lost_at", "lost_reason", pl.col("lost_at").alias("_at")).sort("_at"),
                   left_on=sc.ENTERED_AT, right_on="_at", by=sc.LEAD_ID, strategy="forward",
                   allow_exact_matches=False, check_sortedness=False)
        .filter(pl.col("lost_at").is_not_null()
                & (pl.col("next_at").is_null() | (pl.col("lost_at") < pl.col("next_at"))))
        .select("lead_index", sc.ENTERED_AT, "lost_at", "lost_reason",
                pl.lit(opportunity, dtype=pl.Int32).alias("stage_rank"))
        .unique(["lead_index", sc.ENTERED_AT])
    )
    others = empty.filter(pl.col("stage_rank") != opportunity)
    joined = at_opportunity.join(matched, on=["lead_index", sc.ENTERED_AT, "stage_rank"], how="left",
                                 maintain_order="left")
    return pl.concat([others, joined.select(others.columns)])


def step_counts(entries: pl.DataFrame, *, extra: Sequence[str] = ()) -> pl.DataFrame:
    """seg_key, [extra], stage_rank, outcome, _n (entries), _implied (of them, implied): counts that add up
    over groups of leads (see funnel.analyses.partials)."""
    return (entries.group_by(SEG, *extra, "stage_rank", "outcome")
            .agg(pl.len().cast(pl.Int64).alias("_n"), pl.col("implied").sum().cast(pl.Int64).alias("_implied")))


def step_rows(inputs: AnalysisInputs, per_outcome: pl.DataFrame, *, extra: Sequence[str] = ()) -> pl.DataFrame:
    """Outcome counts (`step_counts`) per (segment, [extra], step), zero rows filled in, the total added,
    rates."""
    counts_by = [SEG, *extra, "stage_rank"]
    counted = per_outcome.group_by(counts_by).agg(
        pl.col("_n").filter(pl.col("outcome") != "excluded").sum().alias("entered"),
        *[pl.col("_n").filter(pl.col("outcome") == o).sum().alias(o) for o in ALL_OUTCOMES],
        pl.col("_implied").sum().alias("implied"),
    )
    metrics = ["entered", *OUTCOMES, "excluded", "implied"]
    counted = with_total(counted, keys=[*extra, "stage_rank"])
    steps = pl.DataFrame({"stage_rank": list(range(len(inputs.main_stages) - 1))}, schema={"stage_rank": pl.Int32})
    spine = inputs.segment_spine().join(steps, how="cross")
    if extra:
        spine = counted.select(extra).unique().join(spine, how="cross")
    rows = (
        spine.join(counted, on=counts_by, how="left", nulls_equal=True)
        .with_columns([pl.col(m).fill_null(0).cast(pl.Int64) for m in metrics])
        .with_columns((pl.col("stage_rank") + 1).alias("to_rank"),
                      (pl.col("advanced") + pl.col("lost") + pl.col("expired")).alias("decided"))
    )
    rows = with_rate(rows, successes="advanced", trials="decided", name="rate")
    rows = (
        rows.with_columns(pl.col(SEG).is_null().alias("_total"))
        .sort(["_total", SEG, *extra, "stage_rank"], descending=[True, False] + [False] * (len(extra) + 1),
              nulls_last=True)
        .select(SEG, *extra, inputs.stage_column("stage_rank", "from_stage"), inputs.stage_column("to_rank", "to_stage"),
                *metrics, "rate", "rate_lo", "rate_hi")
    )
    return inputs.with_segments(rows)


def stage_conversion(con: duckdb.DuckDBPyConnection, filters: Filters, *, settings: Settings,
                     window_days: int | None = None, skipped: str | None = None,
                     by: str | Sequence[str] | None = None, history: pl.DataFrame | None = None,
                     leads: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per step (from_stage → next stage) and segment. See `stage_conversion_of`."""
    inputs = analysis_inputs(con, filters, settings=settings, by=by, history=history, leads=leads)
    return stage_conversion_of(inputs, deal_losses(con, as_of=filters.as_of), window_days=window_days,
                               skipped=skipped)


def stage_conversion_of(inputs: AnalysisInputs, losses: pl.DataFrame, *, window_days: int | None = None,
                        skipped: str | None = None) -> pl.DataFrame:
    """One row per step and segment (total first): from_stage, to_stage, entered, advanced, lost,
    expired, open (these four add up to entered), excluded (strict policy), implied (implicit
    policy), rate with its Wilson 95% interval rate_lo/rate_hi (null when nothing is decided)."""
    entries = conversion_entries_of(inputs, losses, window_days=window_days, skipped=skipped)
    return step_rows(inputs, step_counts(entries))


def conversion_cohorts(con: duckdb.DuckDBPyConnection, filters: Filters, *, settings: Settings,
                       window_days: int | None = None, skipped: str | None = None,
                       by: str | Sequence[str] | None = None, history: pl.DataFrame | None = None,
                       leads: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per entry month, step and segment. See `conversion_cohorts_of`."""
    inputs = analysis_inputs(con, filters, settings=settings, by=by, history=history, leads=leads)
    return conversion_cohorts_of(inputs, deal_losses(con, as_of=filters.as_of), window_days=window_days,
                                 skipped=skipped)


def conversion_cohorts_of(inputs: AnalysisInputs, losses: pl.DataFrame, *, window_days: int | None = None,
                          skipped: str | None = None) -> pl.DataFrame:
    """The step table per cohort month (the month of the entry): cohort_month first, then the
    columns of `stage_conversion_of`. Every step appears for every month with an entry into any stage
    (zeros included); months without any entry are left out."""
    return step_rows(inputs, cohort_counts(inputs, losses, window_days=window_days, skipped=skipped),
                     extra=("cohort_month",))


def cohort_counts(inputs: AnalysisInputs, losses: pl.DataFrame, *, window_days: int | None = None,
                  skipped: str | None = None) -> pl.DataFrame:
    """seg_key, cohort_month, stage_rank, outcome, _n, _implied: `step_counts` per entry month (counts that add
    up over groups of leads: see funnel.analyses.partials)."""
    entries = conversion_entries_of(inputs, losses, window_days=window_days, skipped=skipped).with_columns(
        pl.col(sc.ENTERED_AT).dt.date().dt.month_start().alias("cohort_month"))
    return step_counts(entries, extra=("cohort_month",))


def cumulative_conversion(con: duckdb.DuckDBPyConnection, filters: Filters, *, settings: Settings,
                          skipped: str | None = None, by: str | Sequence[str] | None = None,
                          history: pl.DataFrame | None = None, leads: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per main stage and segment. See `cumulative_conversion_of`."""
    inputs = analysis_inputs(con, filters, settings=settings, by=by, history=history, leads=leads)
    return cumulative_conversion_of(inputs, skipped=skipped)


def cumulative_conversion_of(inputs: AnalysisInputs, *, skipped: str | None = None) -> pl.DataFrame:
    """Cumulative conversion from the first stage: the cohort is the leads whose first dated stage
    entry falls in the cohort period; per main stage: cohort, reached (by D: under "implicit", got
    at least this far; under "strict", entered this very stage), rate = reached / cohort (Wilson
    interval rate_lo/rate_hi) and step_rate = the share of the leads that reached the stage before
    which also reached this one."""
    return cumulative_rows(inputs, cumulative_counts(inputs, skipped=skipped))


def cumulative_counts(inputs: AnalysisInputs, *, skipped: str | None = None) -> pl.DataFrame:
    """seg_key, cohort, then reached<r> per main stage rank r and both<r> (reached r and r − 1) from r = 1: the
    leads of the cumulative conversion's cohort per segment (counts that add up over groups of leads: see
    funnel.analyses.partials)."""
    _, implicit = conversion_policy(inputs.settings, None, skipped)
    per_lead = inputs.population.select(SEG, "known", "first_entered_at", pl.col("furthest_rank").alias("furthest"))
    if not implicit:
        per_lead = per_lead.with_columns(entered_masks(inputs).alias("entered"))
    per_lead = per_lead.filter(pl.col("known").fill_null(False) & pl.col("first_entered_at").is_not_null()
                               & inputs.in_period("first_entered_at"))

    def flag(rank: int) -> pl.Expr:
        entered = pl.col("furthest") >= rank if implicit else has_rank_bit(pl.col("entered"), pl.lit(rank))
        return entered.fill_null(False)

    stages = range(len(inputs.main_stages))
    return per_lead.group_by(SEG).agg(
        pl.len().cast(pl.Int64).alias("cohort"),
        *[flag(r).sum().cast(pl.Int64).alias(f"reached{r}") for r in stages],
        *[(flag(r) & flag(r - 1)).sum().cast(pl.Int64).alias(f"both{r}") for r in stages if r])


def cumulative_rows(inputs: AnalysisInputs, counts: pl.DataFrame) -> pl.DataFrame:
    """`cumulative_conversion_of` from its counts (`cumulative_counts`), the total first."""
    wide = with_total(counts, keys=[])
    ranks = pl.DataFrame({"stage_rank": list(range(len(inputs.main_stages)))}, schema={"stage_rank": pl.Int32})
    counted = (
        wide.unpivot(index=[SEG, "cohort"], variable_name="_name", value_name="_count")
        .with_columns(pl.col("_name").str.extract(r"^([a-z]+)").alias("_kind"),
                      pl.col("_name").str.extract(r"(\d+)$").cast(pl.Int32).alias("stage_rank"))
        .pivot(on="_kind", index=[SEG, "cohort", "stage_rank"], values="_count")
    )
    if "both" not in counted.columns:
        counted = counted.with_columns(pl.lit(None, dtype=pl.Int64).alias("both"))
    rows = (
        inputs.segment_spine().join(ranks, how="cross")
        .join(counted, on=[SEG, "stage_rank"], how="left", nulls_equal=True)
        .with_columns(pl.col("cohort").fill_null(0).cast(pl.Int64), pl.col("reached").fill_null(0).cast(pl.Int64),
                      pl.col("both").fill_null(0).cast(pl.Int64))
        .with_columns(pl.col("cohort").max().over(SEG).alias("cohort"))
        .sort(SEG, "stage_rank", nulls_last=False)
        .with_columns(rate_or_null(pl.col("both"), pl.col("reached").shift(1).over(SEG)).alias("step_rate"))
    )
    rows = with_rate(rows, successes="reached", trials="cohort", name="rate").select(
        SEG, inputs.stage_column("stage_rank", "stage"), "cohort", "reached", "rate", "rate_lo", "rate_hi", "step_rate")
    return inputs.with_segments(rows)


def previous_period(filters: Filters) -> Filters | None:
    """The same-length cohort period just before this one, seen the same number of days after its
    end as this one is (so both periods had the same time to convert): whole calendar months shift
    by months, other periods by their length in days. None when the period has no start."""
    start, end = filters.period_start, filters.cohort_end
    if start is None:
        return None
    if start > end:
        raise FunnelError("the period starts after it ends", value=f"{start} – {end}")
    if start.day == 1 and end.day == calendar.monthrange(end.year, end.month)[1]:
        months = (end.year - start.year) * 12 + end.month - start.month + 1
        new_start = _shift_months(start, -months)
    else:
        new_start = start - timedelta(days=(end - start).days + 1)
    new_end = start - timedelta(days=1)
    as_of = new_end + (filters.as_of - end)
    return replace(filters, as_of=as_of, period_start=new_start, period_end=new_end)


def _shift_months(day: date, months: int) -> date:
    """The same day `months` months away, clipped to the month's length (31 Mar − 1 month = 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# ------------------------------------------------------------------------------- time to convert


def pair_ranks(inputs: AnalysisInputs, from_stage: str, to_stage: str) -> tuple[int, int]:
    """The main-stage ranks of a time-to-convert pair; FunnelError unless to_stage comes after from_stage."""
    start_rank = inputs.rank_of(from_stage, main_only=True)
    end_rank = inputs.rank_of(to_stage, main_only=True)
    if end_rank <= start_rank:
        raise FunnelError(f"{to_stage!r} does not come after {from_stage!r} on the {inputs.ladder} ladder")
    return start_rank, end_rank


def _durations(inputs: AnalysisInputs, from_stage: str, to_stage: str, skipped: str | None) -> pl.DataFrame:
    """One row per lead that reached from_stage in the cohort period: lead_id, seg_key, started_at,
    finished_at, days (to reaching to_stage, or to D while it has not), converted."""
    _, implicit = conversion_policy(inputs.settings, None, skipped)
    start_rank, end_rank = pair_ranks(inputs, from_stage, to_stage)
    moves = inputs.timeline.filter(moves_known() & ~pl.col("is_side")).select(
        sc.LEAD_ID, SEG, "stage_rank", sc.ENTERED_AT)

    def reaches(rank: int) -> pl.Expr:
        return pl.col("stage_rank") >= rank if implicit else pl.col("stage_rank") == rank

    starts = (moves.filter(reaches(start_rank) & inputs.in_period(sc.ENTERED_AT))
              .group_by(sc.LEAD_ID).agg(pl.col(SEG).first(), pl.col(sc.ENTERED_AT).min().alias("started_at")))
    finishes = (moves.filter(reaches(end_rank)).select(sc.LEAD_ID, sc.ENTERED_AT)
                .join(starts.select(sc.LEAD_ID, "started_at"), on=sc.LEAD_ID)
                .filter(pl.col(sc.ENTERED_AT) >= pl.col("started_at"))
                .group_by(sc.LEAD_ID).agg(pl.col(sc.ENTERED_AT).min().alias("finished_at")))
    return (
        starts.join(finishes, on=sc.LEAD_ID, how="left")
        .with_columns(
            (pl.coalesce(pl.col("finished_at").dt.date(), pl.lit(inputs.as_of))
             - pl.col("started_at").dt.date()).dt.total_days().alias("days"),
            pl.col("finished_at").is_not_null().alias("converted"))
        .sort(sc.LEAD_ID)
    )


def time_to_convert(con: duckdb.DuckDBPyConnection, filters: Filters, *, settings: Settings, from_stage: str,
                    to_stage: str, skipped: str | None = None, by: str | Sequence[str] | None = None,
                    history: pl.DataFrame | None = None, leads: pl.DataFrame | None = None) -> pl.DataFrame:
    """Kaplan–Meier time from from_stage to to_stage per segment. See `time_to_convert_of`."""
    inputs = analysis_inputs(con, filters, settings=settings, by=by, history=history, leads=leads)
    return time_to_convert_of(inputs, from_stage=from_stage, to_stage=to_stage, skipped=skipped)


def time_to_convert_of(inputs: AnalysisInputs, *, from_stage: str, to_stage: str,
                       skipped: str | None = None) -> pl.DataFrame:
    """One row per segment (total first): from_stage, to_stage, leads (reached from_stage in the
    period), converted (reached to_stage by D), median_days, p80_days, p90_days (Kaplan–Meier: leads
    not converted yet are censored at D; null when too few converted to reach the quantile). The
    clock starts at the lead's first reaching of from_stage in the period; recycles do not restart it."""
    return time_to_convert_rows(inputs, convert_risks(inputs, from_stage=from_stage, to_stage=to_stage,
                                                      skipped=skipped), from_stage=from_stage, to_stage=to_stage)


def convert_risks(inputs: AnalysisInputs, *, from_stage: str, to_stage: str,
                  skipped: str | None = None) -> pl.DataFrame:
    """seg_key, _time, _events, _removed: the Kaplan–Meier risk table (`km_risk_table`) of the time from
    from_stage to to_stage per segment (counts that add up over groups of leads: see funnel.analyses.partials)."""
    return km_risk_table(_durations(inputs, from_stage, to_stage, skipped), duration="days", observed="converted",
                         by=[SEG])


def time_to_convert_rows(inputs: AnalysisInputs, risks: pl.DataFrame, *, from_stage: str,
                         to_stage: str) -> pl.DataFrame:
    """`time_to_convert_of` from its risk table (`convert_risks`)."""
    parts = [km_quantiles_of_risks(risks, by=None).with_columns(pl.lit(None, dtype=pl.Int32).alias(SEG))]
    if inputs.by and risks.height:
        parts.append(km_quantiles_of_risks(risks, by=[SEG]))
    quantiles = pl.concat([p.select(SEG, "p50", "p80", "p90", "n", "events") for p in parts], how="vertical_relaxed")
    rows = (
        inputs.segment_spine().join(quantiles, on=SEG, how="left", nulls_equal=True)
        .select(SEG, pl.lit(from_stage).cast(inputs.stage_dtype).alias("from_stage"),
                pl.lit(to_stage).cast(inputs.stage_dtype).alias("to_stage"),
                pl.col("n").fill_null(0).cast(pl.Int64).alias("leads"),
                pl.col("events").fill_null(0).cast(pl.Int64).alias("converted"),
                pl.col("p50").alias("median_days"), pl.col("p80").alias("p80_days"), pl.col("p90").alias("p90_days"))
    )
    return inputs.with_segments(rows)


def time_to_convert_curve(con: duckdb.DuckDBPyConnection, filters: Filters, *, settings: Settings,
                          from_stage: str, to_stage: str, skipped: str | None = None,
                          history: pl.DataFrame | None = None) -> pl.DataFrame:
    """The Kaplan–Meier table of time to convert for all leads: one row per distinct day: days,
    at_risk, events, censored, survival, converted_share (1 − survival)."""
    return time_to_convert_curve_of(analysis_inputs(con, filters, settings=settings, history=history),
                                    from_stage=from_stage, to_stage=to_stage, skipped=skipped)


def time_to_convert_curve_of(inputs: AnalysisInputs, *, from_stage: str, to_stage: str,
                             skipped: str | None = None) -> pl.DataFrame:
    """`time_to_convert_curve` on prepared inputs (not segmented: every lead is in the curve)."""
    return curve_rows(convert_risks(inputs, from_stage=from_stage, to_stage=to_stage, skipped=skipped))


def curve_rows(risks: pl.DataFrame) -> pl.DataFrame:
    """`time_to_convert_curve_of` from its risk table (`convert_risks`, every segment summed)."""
    return kaplan_meier_of_risks(risks).rename({"time": "days"}).with_columns(
        (1.0 - pl.col("survival")).alias("converted_share"))
