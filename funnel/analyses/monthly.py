"""The monthly segment-health review: calendar month M against M−1 (and M−12 where the data reaches).

Every figure is one of the core analyses at a fixed date, so it equals `funnel metrics` there:
- the distribution at each month end (`stage_distribution_of` as of that day);
- every step's conversion for the entries of each month, outcomes as of D (`stage_conversion_of`
  with the cohort period set to the month; a young cohort is mostly *open*, shown as such);
- aging at each month end (`stage_aging_of`: leads over SLA by stage);
- handoff acceptance and speed-to-lead for the MQLs of each month, as of D (`handoff_review`);
- the deals closed in each month (account-owned pipelines too): win rate by a deal dimension;
- new leads, leads entering each stage, deals won and won amount in each month;
- segment health over one dimension: per step, each segment's rate and its share of the decided
  entries in M and M−1, and the change in the overall rate split into mix and rate (DOMAIN):
  mix = Σ (w_cur − w_prev)·r_prev, rate = Σ w_cur·(r_cur − r_prev); the parts add up to the change.
  A segment with no decided entry in M−1 takes M−1's overall rate as its r_prev (its w_prev is 0, so
  any value keeps the identity; this one reads "new volume at the old average is not a mix effect").
- highlights: plain sentences, only for changes beyond chance (M against M−1, exact test where an
  expected count is under 5, Benjamini–Hochberg over every change tested in the review).

D (the as-of date) defaults to the newest day in the data; M defaults to the last complete month
at D. Nothing reads the clock.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

import duckdb
import polars as pl

from funnel import schema as sc
from funnel.analyses.aging import stage_aging_of
from funnel.analyses.conversion import deal_losses, stage_conversion_of
from funnel.analyses.deals import DEAL_DIMENSIONS, deal_facts
from funnel.analyses.distribution import stage_distribution_of
from funnel.analyses.handoff import handoff_passes, handoff_review, handoff_rows_of
from funnel.analyses.inputs import AnalysisInputs, analysis_inputs, moves_known
from funnel.analyses.segments import lead_deals, reported_stages, segment_performance_of
from funnel.config import Settings
from funnel.errors import FunnelError
from funnel.filters import Filters, until
from funnel.model.history import history_until, segment_text
from funnel.stats import benjamini_hochberg, bh_adjusted, segment_vs_rest_p_value, with_rate
from funnel.store.db import first_row
from funnel.store.queries import sql_text

__all__ = [
    "MonthlyReview",
    "change_p_value",
    "last_complete_month",
    "mix_rate_split",
    "month_choices",
    "month_end",
    "monthly_review",
    "parse_month",
    "quarter_ends",
    "review_months",
    "where_to_invest",
]

PREVIOUS, CURRENT, YEAR_AGO = "previous", "current", "year_ago"


def parse_month(text: str) -> date:
    """'YYYY-MM' as the first day of that month; FunnelError naming the value otherwise."""
    try:
        year, month = (int(part) for part in str(text).strip().split("-"))
        return date(year, month, 1)
    except ValueError:
        raise FunnelError("a month is written YYYY-MM", value=str(text), hint="For example 2025-06") from None


def month_end(month: date) -> date:
    """The last day of the month of `month`."""
    return date(month.year, month.month, calendar.monthrange(month.year, month.month)[1])


def shifted_month(month: date, months: int) -> date:
    """The first day of the month `months` months away."""
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def last_complete_month(as_of: date) -> date:
    """The newest calendar month that has ended at D (D itself may be its last day)."""
    month = as_of.replace(day=1)
    return month if month_end(month) == as_of else shifted_month(month, -1)


def month_choices(first: date | None, as_of: date) -> list[date]:
    """Every calendar month from the first day of data to D's month, newest first (first days)."""
    if first is None:
        return []
    months, month = [], as_of.replace(day=1)
    while month >= first.replace(day=1):
        months.append(month)
        month = shifted_month(month, -1)
    return months


def review_months(month: date, *, first_day: date | None) -> dict[str, date]:
    """{"current": M, "previous": M−1, "year_ago": M−12}; M−12 only when the data reaches back to it
    (its last day is on or after the first day of data)."""
    months = {CURRENT: month, PREVIOUS: shifted_month(month, -1)}
    year_ago = shifted_month(month, -12)
    if first_day is not None and month_end(year_ago) >= first_day:
        months[YEAR_AGO] = year_ago
    return months


def mix_rate_split(rows: pl.DataFrame) -> tuple[float | None, float | None, float | None]:
    """(change, mix, rate) of an overall rate from per-segment w_prev, r_prev, w_cur, r_cur columns
    (w: share of the decided entries, summing to 1 in each month; r: the segment's rate, null without
    decided entries). None when either month has nothing decided."""
    prev_total = rows.get_column("w_prev").sum()
    cur_total = rows.get_column("w_cur").sum()
    if not rows.height or prev_total == 0 or cur_total == 0:
        return None, None, None
    w_prev, w_cur = rows.get_column("w_prev").to_list(), rows.get_column("w_cur").to_list()
    r_prev, r_cur = rows.get_column("r_prev").to_list(), rows.get_column("r_cur").to_list()
    overall_prev = sum(w * r for w, r in zip(w_prev, r_prev, strict=True) if w)
    mix = rate = 0.0
    for wp, rp, wc, rc in zip(w_prev, r_prev, w_cur, r_cur, strict=True):
        base = rp if rp is not None and wp else overall_prev
        mix += (wc - wp) * base
        if wc:
            rate += wc * (rc - base)
    overall_cur = sum(w * r for w, r in zip(w_cur, r_cur, strict=True) if w)
    return overall_cur - overall_prev, mix, rate


def change_p_value(s_now: int, n_now: int, s_then: int, n_then: int) -> float | None:
    """Two-sided p-value of a rate's change between two months (Fisher's exact test where an
    expected count is under 5, else the pooled z-test); None when either month has no trials."""
    if n_now == 0 or n_then == 0:
        return None
    return segment_vs_rest_p_value(s_now, n_now, s_now + s_then, n_now + n_then)


@dataclass(frozen=True)
class MonthlyReview:
    """Every frame of the review (see the module docstring); `months` maps current/previous/year_ago
    to the first day of each month compared."""

    as_of: date
    ladder: str
    by: str | None
    months: dict[str, date]
    headline: pl.DataFrame  # one row per month: new_leads, entered_<stage>, won_deals, won_amount
    distribution: pl.DataFrame  # one row per month end and stage: leads, share
    conversion: pl.DataFrame  # one row per month and step: entered, outcomes, rate, interval
    aging: pl.DataFrame  # one row per month end and stage: leads, sla_days, over_sla
    handoff: pl.DataFrame  # one row per month: mqls, outcomes, acceptance rate, speed-to-lead
    deals: pl.DataFrame  # one row per month and segment (deal dimensions only): closed, won, win rate, won amount
    segment_health: pl.DataFrame  # one row per step and segment (total first)
    highlights: pl.DataFrame  # one row per change beyond chance: sentence and the numbers behind it
    changes: pl.DataFrame  # every change tested: kind, step, segment, p_value, q_value, significant
    notes: tuple[str, ...]


def _period(inputs: AnalysisInputs, month: date) -> AnalysisInputs:
    """The same prepared inputs with the cohort period set to one month (outcomes still as of D)."""
    end = min(month_end(month), inputs.as_of)
    return replace(inputs, filters=replace(inputs.filters, period_start=month, period_end=end))


def month_filters(filters: Filters, month: date) -> Filters:
    """The filters of the cohorts that entered in `month`, outcomes as of D."""
    return replace(filters, period_start=month, period_end=min(month_end(month), filters.as_of))


def _headline(con: duckdb.DuckDBPyConnection, inputs: AnalysisInputs, months: dict[str, date]) -> pl.DataFrame:
    main = inputs.main_stages
    stages = reported_stages(inputs)
    moves = inputs.timeline.filter(moves_known() & ~pl.col("is_side")).select("lead_index", "stage_rank",
                                                                               pl.col(sc.ENTERED_AT).dt.date().alias("day"))
    rows = []
    for label, month in months.items():
        end = min(month_end(month), inputs.as_of)
        seen = inputs.population.get_column("first_seen").dt.date()
        row: dict[str, Any] = {"period": label, "month": month,
                               "new_leads": int(((seen >= month) & (seen <= end)).sum())}
        in_month = moves.filter((pl.col("day") >= month) & (pl.col("day") <= end))
        for stage in stages:
            row[f"entered_{stage}"] = in_month.filter(pl.col("stage_rank") == main.index(stage)).get_column(
                "lead_index").n_unique()
        won = first_row(con, sql_text("monthly_wins"), {"from": datetime.combine(month, time()), "until": until(end)})
        row["won_deals"], row["won_amount"] = int(won[0]), float(won[1])
        rows.append(row)
    return pl.DataFrame(rows)


def _labelled(frames: list[tuple[str, date, pl.DataFrame]], column: str) -> pl.DataFrame:
    parts = [f.select(pl.lit(label).alias("period"), pl.lit(day).alias(column), pl.all()) for label, day, f in frames]
    return pl.concat(parts, how="vertical_relaxed") if parts else pl.DataFrame()


def _deal_months(con: duckdb.DuckDBPyConnection, settings: Settings, months: dict[str, date], as_of: date,
                 by: str | None) -> pl.DataFrame:
    """One row per month and segment of `by` when it is a deal dimension (the total first, segment
    null): the deals that closed in the month (closed by its end, not by the day before it): closed,
    won, win_rate with its Wilson interval, won_amount. Empty when no deal closed in any month."""
    key = by if by in DEAL_DIMENSIONS else None
    parts = []
    for label, month in months.items():
        end = min(month_end(month), as_of)
        closed = deal_facts(con, settings=settings, as_of=end).filter(pl.col("closed"))
        before = deal_facts(con, settings=settings, as_of=month - timedelta(days=1)).filter(pl.col("closed"))
        in_month = closed.join(before.select("deal_id"), on="deal_id", how="anti").with_columns(
            pl.col("won").fill_null(False),
            (segment_text(pl.col(key)) if key else pl.lit(None, dtype=pl.String)).alias("segment"))
        sums = [pl.len().cast(pl.Int64).alias("closed"), pl.col("won").sum().cast(pl.Int64).alias("won"),
                pl.col("amount").filter(pl.col("won")).sum().cast(pl.Float64).alias("won_amount")]
        total = in_month.select(pl.lit(None, dtype=pl.String).alias("segment"), *sums)
        rows = [total]
        if key and in_month.height:
            rows.append(in_month.group_by("segment").agg(sums).sort(["closed", "segment"], descending=[True, False]))
        block = pl.concat(rows, how="vertical_relaxed").select(pl.lit(label).alias("period"),
                                                               pl.lit(month).alias("month"), pl.all())
        parts.append(block)
    table = pl.concat(parts, how="vertical_relaxed")
    if int(table.get_column("closed").sum()) == 0:
        return pl.DataFrame()
    table = with_rate(table, successes="won", trials="closed", name="win_rate")
    return table.rename({"segment": key}) if key else table.drop("segment")


def _segment_health(by_inputs: AnalysisInputs, losses: pl.DataFrame, months: dict[str, date],
                    by: str) -> pl.DataFrame:
    """One row per step and segment (the total row first per step, segment null): decided, advanced,
    rate and share of decided entries in M and M−1, the segment's mix and rate parts, and the p-value
    of its rate's change."""
    now = stage_conversion_of(_period(by_inputs, months[CURRENT]), losses)
    then = stage_conversion_of(_period(by_inputs, months[PREVIOUS]), losses)
    keys = [by, "from_stage", "to_stage"]
    pick = ["entered", "open", "decided", "advanced", "rate", "rate_lo", "rate_hi"]

    def decided(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_columns((pl.col("advanced") + pl.col("lost") + pl.col("expired")).alias("decided"))

    joined = (decided(now).select(*keys, *pick)
              .join(decided(then).select(*keys, *pick), on=keys, how="full", coalesce=True, suffix="_prev",
                    nulls_equal=True))
    joined = joined.rename({c: f"{c}_cur" for c in pick}).with_columns(
        [pl.col(f"{c}_cur").fill_null(0) for c in ("entered", "open", "decided", "advanced")]
        + [pl.col(f"{c}_prev").fill_null(0) for c in ("entered", "open", "decided", "advanced")])
    total_cur = pl.col("decided_cur").filter(pl.col(by).is_not_null()).sum().over("from_stage")
    total_prev = pl.col("decided_prev").filter(pl.col(by).is_not_null()).sum().over("from_stage")
    joined = joined.with_columns(
        pl.when(total_cur > 0).then(pl.col("decided_cur") / total_cur).alias("share_cur"),
        pl.when(total_prev > 0).then(pl.col("decided_prev") / total_prev).alias("share_prev"),
    )
    out = []
    for _, rows in joined.group_by(["from_stage"], maintain_order=True):
        segments = rows.filter(pl.col(by).is_not_null())
        total = rows.filter(pl.col(by).is_null())
        parts = segments.select(pl.col("share_prev").fill_null(0.0).alias("w_prev"),
                                pl.col("rate_prev").alias("r_prev"),
                                pl.col("share_cur").fill_null(0.0).alias("w_cur"), pl.col("rate_cur").alias("r_cur"))
        change, mix, rate = mix_rate_split(parts)
        overall_prev = total.get_column("rate_prev")[0] if total.height else None
        mix_parts, rate_parts = [], []
        for wp, rp, wc, rc in parts.iter_rows():
            if change is None:
                mix_parts.append(None)
                rate_parts.append(None)
                continue
            base = rp if rp is not None and wp else overall_prev
            mix_parts.append((wc - wp) * base)
            rate_parts.append(wc * (rc - base) if wc else 0.0)
        segments = segments.with_columns(pl.Series("mix_part", mix_parts, dtype=pl.Float64),
                                         pl.Series("rate_part", rate_parts, dtype=pl.Float64),
                                         pl.lit(None, dtype=pl.Float64).alias("change"))
        total = total.with_columns(pl.lit(mix, dtype=pl.Float64).alias("mix_part"),
                                   pl.lit(rate, dtype=pl.Float64).alias("rate_part"),
                                   pl.lit(change, dtype=pl.Float64).alias("change"))
        block = pl.concat([total, segments.sort("decided_cur", by, descending=[True, False])], how="vertical_relaxed")
        p_values = [change_p_value(int(r["advanced_cur"]), int(r["decided_cur"]), int(r["advanced_prev"]),
                                   int(r["decided_prev"])) for r in block.iter_rows(named=True)]
        out.append(block.with_columns(pl.Series("p_value", p_values, dtype=pl.Float64)))
    if not out or all(int(o.get_column("decided_cur").sum() + o.get_column("decided_prev").sum()) == 0 for o in out):
        return pl.DataFrame()
    columns = [by, "from_stage", "to_stage", "entered_cur", "open_cur", "decided_cur", "advanced_cur", "rate_cur",
               "rate_lo_cur", "rate_hi_cur", "share_cur", "entered_prev", "open_prev", "decided_prev",
               "advanced_prev", "rate_prev", "rate_lo_prev", "rate_hi_prev", "share_prev", "change", "mix_part",
               "rate_part", "p_value"]
    return pl.concat([o.select(columns) for o in out], how="vertical_relaxed")


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _points(value: float) -> str:
    return f"{abs(value) * 100:.0f}"


def _highlights(conversion: pl.DataFrame, handoff: pl.DataFrame, health: pl.DataFrame | None, by: str | None,
                *, alpha: float, deals: pl.DataFrame | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every change tested (M against M−1) with BH across them, and a sentence per change beyond chance."""
    tests: list[dict[str, Any]] = []
    now = conversion.filter(pl.col("period") == CURRENT)
    then = conversion.filter(pl.col("period") == PREVIOUS)
    for cur, prev in zip(now.iter_rows(named=True), then.iter_rows(named=True), strict=True):
        d_cur = cur["advanced"] + cur["lost"] + cur["expired"]
        d_prev = prev["advanced"] + prev["lost"] + prev["expired"]
        tests.append({"kind": "step", "from_stage": str(cur["from_stage"]), "to_stage": str(cur["to_stage"]),
                      "segment": None, "advanced_cur": cur["advanced"], "decided_cur": d_cur,
                      "advanced_prev": prev["advanced"], "decided_prev": d_prev, "rate_cur": cur["rate"],
                      "rate_prev": prev["rate"], "open_cur": cur["open"],
                      "p_value": change_p_value(cur["advanced"], d_cur, prev["advanced"], d_prev)})
    if handoff.height == 2:
        cur, prev = (handoff.filter(pl.col("period") == p).row(0, named=True) for p in (CURRENT, PREVIOUS))
        d_cur = cur["accepted"] + cur["recycled"] + cur["expired"]
        d_prev = prev["accepted"] + prev["recycled"] + prev["expired"]
        tests.append({"kind": "acceptance", "from_stage": "mql", "to_stage": "sql", "segment": None,
                      "advanced_cur": cur["accepted"], "decided_cur": d_cur, "advanced_prev": prev["accepted"],
                      "decided_prev": d_prev, "rate_cur": cur["acceptance_rate"],
                      "rate_prev": prev["acceptance_rate"], "open_cur": cur["pending"],
                      "p_value": change_p_value(cur["accepted"], d_cur, prev["accepted"], d_prev)})
    if health is not None and health.height and by is not None:
        for row in health.filter(pl.col(by).is_not_null()).iter_rows(named=True):
            tests.append({"kind": "segment", "from_stage": str(row["from_stage"]), "to_stage": str(row["to_stage"]),
                          "segment": str(row[by]), "advanced_cur": row["advanced_cur"],
                          "decided_cur": row["decided_cur"], "advanced_prev": row["advanced_prev"],
                          "decided_prev": row["decided_prev"], "rate_cur": row["rate_cur"],
                          "rate_prev": row["rate_prev"], "open_cur": row["open_cur"], "p_value": row["p_value"]})
    if deals is not None and deals.height:
        key = by if by in deals.columns else None
        now = {row[key] if key else None: row for row in deals.filter(pl.col("period") == CURRENT).iter_rows(named=True)}
        then = {row[key] if key else None: row for row in deals.filter(pl.col("period") == PREVIOUS).iter_rows(named=True)}
        for segment, cur in now.items():
            prev = then.get(segment, {"won": 0, "closed": 0, "win_rate": None})
            tests.append({"kind": "deals", "from_stage": "deal", "to_stage": "won", "segment": segment,
                          "advanced_cur": cur["won"], "decided_cur": cur["closed"], "advanced_prev": prev["won"],
                          "decided_prev": prev["closed"], "rate_cur": cur["win_rate"], "rate_prev": prev["win_rate"],
                          "open_cur": 0, "p_value": change_p_value(cur["won"], cur["closed"], prev["won"],
                                                                    prev["closed"])})
    schema = {"kind": pl.String, "from_stage": pl.String, "to_stage": pl.String, "segment": pl.String,
              "advanced_cur": pl.Int64, "decided_cur": pl.Int64, "advanced_prev": pl.Int64, "decided_prev": pl.Int64,
              "rate_cur": pl.Float64, "rate_prev": pl.Float64, "open_cur": pl.Int64, "p_value": pl.Float64}
    changes = pl.DataFrame(tests, schema=schema)
    p_values = changes.get_column("p_value").to_list()
    changes = changes.with_columns(pl.Series("q_value", bh_adjusted(p_values), dtype=pl.Float64),
                                   pl.Series("significant", benjamini_hochberg(p_values, alpha=alpha), dtype=pl.Boolean))
    sentences = []
    for row in changes.filter(pl.col("significant").fill_null(False)).iter_rows(named=True):
        step = f"{row['from_stage'].upper()}→{row['to_stage'].upper()}"
        verb = "rose" if row["rate_cur"] > row["rate_prev"] else "fell"
        numbers = (f"({row['advanced_cur']:,} of {row['decided_cur']:,} decided entries against "
                   f"{row['advanced_prev']:,} of {row['decided_prev']:,})")
        if row["kind"] == "deals":
            who = f"{row['segment']} ({by}): win" if row["segment"] is not None else "Win"
            text = (f"{who} rate of the deals closed in the month {verb} from {_pct(row['rate_prev'])} to "
                    f"{_pct(row['rate_cur'])} ({row['advanced_cur']:,} won of {row['decided_cur']:,} against "
                    f"{row['advanced_prev']:,} of {row['decided_prev']:,}).")
        elif row["kind"] == "acceptance":
            text = (f"Handoff acceptance {verb} from {_pct(row['rate_prev'])} to {_pct(row['rate_cur'])} "
                    f"{numbers}.")
        elif row["kind"] == "segment":
            text = (f"{row['segment']} ({by}): {step} {verb} from {_pct(row['rate_prev'])} to "
                    f"{_pct(row['rate_cur'])} {numbers}.")
        else:
            text = f"{step} {verb} from {_pct(row['rate_prev'])} to {_pct(row['rate_cur'])} {numbers}"
            text += _mix_clause(health, by, row["from_stage"]) + "."
        if row["open_cur"]:
            text += (f" {row['open_cur']:,} of this month's {row['open_cur'] + row['decided_cur']:,} entries are still "
                     "open: the rate can still move.")
        sentences.append({**row, "sentence": text})
    highlights = pl.DataFrame(sentences, schema={**schema, "q_value": pl.Float64, "significant": pl.Boolean,
                                                 "sentence": pl.String})
    return highlights, changes


def _mix_clause(health: pl.DataFrame | None, by: str | None, from_stage: str) -> str:
    """'; 6 of the 8 points come from the mix: Paid Search grew from 20% to 35% of the decided
    entries and converts at 18%' — the segment whose mix part weighs most."""
    if health is None or not health.height or by is None:
        return ""
    rows = health.filter(pl.col("from_stage").cast(pl.String) == from_stage)
    total = rows.filter(pl.col(by).is_null())
    if not total.height or total.get_column("change")[0] is None:
        return ""
    change, mix = total.get_column("change")[0], total.get_column("mix_part")[0]
    if change == 0:
        return ""
    rate = change - mix
    part = "mix" if abs(mix) >= abs(rate) else "rate"
    amount = mix if part == "mix" else rate
    segments = rows.filter(pl.col(by).is_not_null() & pl.col(f"{part}_part").is_not_null())
    if not segments.height:
        return ""
    top = segments.sort(pl.col(f"{part}_part").abs(), descending=True).row(0, named=True)
    if mix * rate >= 0:
        clause = f"; {_points(amount)} of the {_points(change)} points come from the {part}"
    else:
        clause = f"; the rate part is {rate * 100:+.0f} points and the mix part {mix * 100:+.0f}"
    if part == "mix":
        grew = "grew" if (top["share_cur"] or 0) > (top["share_prev"] or 0) else "shrank"
        clause += (f": {top[by]} {grew} from {_pct(top['share_prev'])} to {_pct(top['share_cur'])} of the decided "
                   f"entries and converts at {_pct(top['rate_cur'] if top['rate_cur'] is not None else top['rate_prev'])}")
    else:
        clause += f": {top[by]} went from {_pct(top['rate_prev'])} to {_pct(top['rate_cur'])}"
    return clause


def monthly_review(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date, month: date | None = None,
                   ladder: str = sc.LIFECYCLE, by: str | None = None) -> MonthlyReview:
    """The review of calendar month `month` (default: the last complete month at D = `as_of`)."""
    month = (month or last_complete_month(as_of)).replace(day=1)
    if month > as_of:
        raise FunnelError("the month starts after the as-of date", value=f"{month:%Y-%m}",
                          hint=f"Pick a month up to {as_of:%Y-%m}")
    filters = Filters(as_of=as_of, ladder=ladder)
    inputs = analysis_inputs(con, filters, settings=settings)
    first = inputs.population.get_column("first_seen").min()
    months = review_months(month, first_day=first.date() if first is not None else None)
    losses = deal_losses(con, as_of=as_of)
    notes = list(inputs.notes)
    if month_end(month) > as_of:
        notes.append(f"{month:%B %Y} is not complete at {as_of:%d %b %Y}: its figures stop at that day.")

    ends = {label: min(month_end(m), as_of) for label, m in months.items()}
    at_end = {label: inputs if end == as_of else analysis_inputs(con, replace(filters, as_of=end), settings=settings,
                                                                 history=history_until(inputs.history, end))
              for label, end in ends.items()}  # one history read at D, cut at each month end
    distribution = _labelled([(label, ends[label], stage_distribution_of(at_end[label])) for label in months],
                             "month_end")
    aging = _labelled([(label, ends[label], stage_aging_of(at_end[label]).select(
        "stage", "leads", "median_days", "sla_days", "over_sla")) for label in months], "month_end")
    conversion = _labelled([(label, m, stage_conversion_of(_period(inputs, m), losses)) for label, m in months.items()],
                           "month")

    handoff_parts = []
    if ladder == sc.LIFECYCLE and "mql" in settings.ladders.lifecycle:
        passes = handoff_passes(con, settings=settings, as_of=as_of)  # the same for every month's cohort
        for label, m in months.items():
            if label == YEAR_AGO:
                continue
            rows = handoff_rows_of(_period(inputs, m), passes, losses)
            review = handoff_review(con, settings=settings, filters=month_filters(filters, m), rows=rows)
            handoff_parts.append((label, m, review.head(1).drop("segment")))
    handoff = _labelled(handoff_parts, "month")

    health = None
    if by:
        by_inputs = analysis_inputs(con, filters, settings=settings, by=by, history=inputs.history)
        health = _segment_health(by_inputs, losses, months, by)
    deals = _deal_months(con, settings, months, as_of, by)
    highlights, changes = _highlights(conversion, handoff, health, by, alpha=settings.segments.alpha, deals=deals)
    if health is None:
        health = pl.DataFrame()
    return MonthlyReview(as_of=as_of, ladder=ladder, by=by, months=months,
                         headline=_headline(con, inputs, months), distribution=distribution, conversion=conversion,
                         aging=aging, handoff=handoff, deals=deals, segment_health=health, highlights=highlights,
                         changes=changes, notes=tuple(notes))


# ------------------------------------------------------------------------------- where to invest


def where_to_invest(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date, by: str,
                    ladder: str = sc.LIFECYCLE, stage: str | None = None) -> dict[str, pl.DataFrame]:
    """Frames: ranking (one row per segment of `by`: leads, reached the stage, rate with its interval,
    verdict higher/lower/as the rest beyond chance, small_sample; best rate first, then volume),
    outliers (segments × ICP: the segments of leads matching no ICP whose rate is higher than the rest
    beyond chance), icp_lift (ICP criteria and activity types: lift in the last complete quarter and the
    one before, with intervals, changed = the intervals do not overlap)."""
    filters = Filters(as_of=as_of, ladder=ladder)
    deals = lead_deals(con, as_of=as_of)
    inputs = analysis_inputs(con, filters, settings=settings, by=by)
    stages = reported_stages(inputs)
    stage = stage or stages[-1]
    if stage not in stages:
        raise FunnelError(f"{stage!r} is not a reported stage", value=stage, hint=f"Use one of: {', '.join(stages)}")
    rate = f"reached_{stage}_rate"
    table = segment_performance_of(inputs, deals)
    overall = table.filter(pl.col(by).is_null())
    overall_rate = overall.get_column(rate)[0] if overall.height else None
    ranking = _verdicts(table.filter(pl.col(by).is_not_null()), rate, overall_rate).select(
        by, "leads", pl.col(f"reached_{stage}").alias("reached"), pl.col(rate).alias("rate"),
        pl.col(f"{rate}_lo").alias("rate_lo"), pl.col(f"{rate}_hi").alias("rate_hi"), "verdict",
        pl.col(f"{rate}_q_value").alias("q_value"), pl.col(f"{rate}_small_sample").alias("small_sample"),
    ).sort(["rate", "leads"], descending=[True, True], nulls_last=True)

    outliers = pl.DataFrame()
    if by != "icp" and settings.fit.icps:
        crossed = analysis_inputs(con, filters, settings=settings, by=(by, "icp"), history=inputs.history)
        both = segment_performance_of(crossed, deals)
        outliers = (_verdicts(both.filter(pl.col(by).is_not_null()), rate, overall_rate)
                    .filter((pl.col("icp") == "(unknown)") & (pl.col("verdict") == "higher"))
                    .select(by, "leads", pl.col(f"reached_{stage}").alias("reached"), pl.col(rate).alias("rate"),
                            pl.col(f"{rate}_lo").alias("rate_lo"), pl.col(f"{rate}_hi").alias("rate_hi"),
                            pl.col(f"{rate}_q_value").alias("q_value"))
                    .sort("rate", descending=True))
    return {"ranking": ranking, "outliers": outliers, "icp_lift": icp_lift_change(con, settings=settings, as_of=as_of)}


def _verdicts(table: pl.DataFrame, rate: str, overall: float | None) -> pl.DataFrame:
    significant = pl.col(f"{rate}_significant").fill_null(False)
    if overall is None:
        return table.with_columns(pl.lit("as the rest").alias("verdict"))
    return table.with_columns(
        pl.when(~significant).then(pl.lit("as the rest"))
        .when(pl.col(rate) > overall).then(pl.lit("higher")).otherwise(pl.lit("lower")).alias("verdict"))


def quarter_ends(as_of: date) -> tuple[date, date]:
    """The last days of the last complete quarter at D and of the quarter before it."""
    start = date(as_of.year, 3 * ((as_of.month - 1) // 3) + 1, 1)
    last = month_end(shifted_month(start, 2))
    end = last if last == as_of else start - timedelta(days=1)
    return end, month_end(shifted_month(end.replace(day=1), -3))


def icp_lift_change(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date) -> pl.DataFrame:
    """One row per ICP criterion and activity type: lift (converting to opportunity within the window,
    with against without) at the end of the last complete quarter and the one before, with intervals;
    changed = the two intervals do not overlap. Empty when the funnel ladder has no opportunity stage."""
    from funnel.model.scoring import score_validation

    if "opportunity" not in settings.ladders.funnel:
        return pl.DataFrame()
    now_end, then_end = quarter_ends(as_of)
    validated_now = score_validation(con, settings=settings, as_of=now_end)
    validated_then = score_validation(con, settings=settings, as_of=then_end)
    frames = []
    for kind, keys in (("criteria", ["icp", "criterion", "field", "rule"]), ("activity_types", [sc.ACTIVITY_TYPE])):
        now, then = validated_now[kind], validated_then[kind]
        if not now.height and not then.height:
            continue
        pick = ["lift", "lift_low", "lift_high", "leads_with"]
        joined = now.select(*keys, *pick).join(then.select(*keys, *pick), on=keys, how="full", coalesce=True,
                                               suffix="_before")
        label = (pl.concat_str([pl.col("icp"), pl.lit(": "), pl.col("rule")]) if kind == "criteria"
                 else pl.col(sc.ACTIVITY_TYPE))
        frames.append(joined.select(
            pl.lit("ICP criterion" if kind == "criteria" else "activity type").alias("kind"), label.alias("what"),
            pl.lit(now_end).alias("quarter_end"), "leads_with", "lift", "lift_low", "lift_high",
            pl.lit(then_end).alias("quarter_before_end"), "leads_with_before", "lift_before", "lift_low_before",
            "lift_high_before",
            ((pl.col("lift_low") > pl.col("lift_high_before")) | (pl.col("lift_high") < pl.col("lift_low_before")))
            .fill_null(False).alias("changed")))
    return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()
