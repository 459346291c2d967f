"""Segment performance: per segment value (one dimension, or two crossed), how many leads reached
each stage by D, the win rate of their deals, days to customer and won amount, with honest
statistics: a Wilson 95% interval on every rate, a small-sample flag, a p-value against the rest of
the leads, and Benjamini–Hochberg significance across every rate of the table.

Reached a stage (default, skipped stages "implicit") = got at least this far by D (entered it or
any later main stage); under "strict", entered that very stage. Lifecycle reports the stages after
"lead" (mql, sql, opportunity, customer by default); the funnel ladder every stage after the first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date

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
    vs_rest,
)
from funnel.config import Settings
from funnel.errors import FunnelError
from funnel.filters import Filters, until
from funnel.stats import benjamini_hochberg, bh_adjusted, km_quantiles_of_risks, km_risk_table, with_rate
from funnel.store.db import frame
from funnel.store.queries import sql_text

__all__ = [
    "lead_deals",
    "lead_deals_query",
    "reported_stages",
    "segment_counts",
    "segment_leads_of",
    "segment_performance",
    "segment_performance_of",
    "segment_rows",
    "weak_segment_warning",
]

MAX_CROSSED = 2
# Won amounts are summed as decimals of 9 places: the same total in any order of the leads, so a sum over groups
# of leads (funnel.analyses.partials) is the sum over all of them. Amounts a decimal cannot hold (not finite, or
# of a quadrillion or more: a mis-mapped id, say) are summed apart as floats, so they still show (NaN and
# infinity as no number) instead of stopping the report; a billion leads of amounts under that stay within 38
# digits.
WON_AMOUNT = pl.Decimal(38, 9)
DECIMAL_AMOUNT_LIMIT = 1e15


def reported_stages(inputs: AnalysisInputs) -> tuple[str, ...]:
    """The stages whose reach a segment table reports."""
    main = inputs.main_stages
    if inputs.ladder == sc.LIFECYCLE and "lead" in main[:-1]:
        return main[main.index("lead") + 1:]
    return main[1:]


def lead_deals(con: duckdb.DuckDBPyConnection, *, as_of: date) -> pl.DataFrame:
    """lead_id, closed_deals, won_deals, won_amount: each lead's deals closed by D."""
    return frame(con, *lead_deals_query(as_of))


def lead_deals_query(as_of: date) -> tuple[str, dict]:
    """The query (SQL and parameters) of `lead_deals`."""
    return sql_text("lead_deals"), {"until": until(as_of)}


def segment_leads_of(inputs: AnalysisInputs, deals: pl.DataFrame, *, skipped: str | None = None) -> pl.DataFrame:
    """One row per lead at D: lead_id, seg_key, furthest_rank, reached_<stage> flags for the
    reported stages, customer_at, days_to_customer and customer_observed (for Kaplan–Meier: from
    first_seen to the first customer entry, or to D; null when the lead's moves are not dated),
    closed_deals, won_deals, won_amount."""
    _, implicit = conversion_policy(inputs.settings, None, skipped)
    main = inputs.main_stages
    population = inputs.population
    if not implicit:
        population = population.with_columns(entered_masks(inputs))
    rows = (
        population.join(deals, on=sc.LEAD_ID, how="left", maintain_order="left")
        .with_columns(pl.col("known").fill_null(True),
                      *[pl.col(c).fill_null(0) for c in ("closed_deals", "won_deals", "won_amount")])
    )
    flags = []
    for stage in reported_stages(inputs):
        rank = main.index(stage)
        reached = (pl.col("furthest_rank") >= rank) if implicit else has_rank_bit(pl.col("entered_mask"), pl.lit(rank))
        flags.append(reached.fill_null(False).alias(f"reached_{stage}"))
    timed = pl.col("known") & pl.col("first_seen").is_not_null()
    return rows.with_columns(
        *flags,
        pl.when(timed).then((pl.coalesce(pl.col("customer_at").dt.date(), pl.lit(inputs.as_of))
                             - pl.col("first_seen").dt.date()).dt.total_days()).alias("days_to_customer"),
        pl.when(timed).then(pl.col("customer_at").is_not_null()).alias("customer_observed"),
    ).select(sc.LEAD_ID, SEG, "furthest_rank", *[f.meta.output_name() for f in flags], "customer_at",
             "days_to_customer", "customer_observed", "closed_deals", "won_deals", "won_amount")


def segment_performance(con: duckdb.DuckDBPyConnection, filters: Filters, *, settings: Settings,
                        by: str | Sequence[str] | None = None, skipped: str | None = None,
                        history: pl.DataFrame | None = None, leads: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per segment value (total first). See `segment_performance_of`."""
    inputs = analysis_inputs(con, filters, settings=settings, by=by, history=history, leads=leads)
    return segment_performance_of(inputs, lead_deals(con, as_of=filters.as_of), skipped=skipped)


def segment_performance_of(inputs: AnalysisInputs, deals: pl.DataFrame, *, skipped: str | None = None) -> pl.DataFrame:
    """One row per segment value (by one dimension or two crossed; the total row first, with the
    segment columns null): leads, share (of all leads), small_sample (fewer leads than
    segments.min_sample); per reported stage s: reached_s (leads), reached_s_rate, _lo, _hi (Wilson
    95%), _p_value (vs the rest of the leads), _q_value (Benjamini–Hochberg over every rate in the
    table), _significant (q ≤ segments.alpha), _small_sample; closed_deals, won_deals, win_rate (won /
    closed deals; null without closed deals) with the same companions; median_days_to_customer
    (Kaplan–Meier from first seen, open leads censored at D); won_amount."""
    if len(inputs.by) > MAX_CROSSED:
        raise FunnelError(f"segment performance crosses at most {MAX_CROSSED} dimensions, not {len(inputs.by)}",
                          hint="Pick one or two dimensions")
    return segment_rows(inputs, *segment_counts(inputs, deals, skipped=skipped))


def segment_counts(inputs: AnalysisInputs, deals: pl.DataFrame, *,
                   skipped: str | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """What the segment table adds up, per seg_key: leads, reached_<stage>, closed_deals, won_deals and
    won_amount (a decimal sum, the same in any order) with won_amount_rest (what a decimal cannot hold, see
    WON_AMOUNT); and the Kaplan–Meier risk table of days to customer. Both add up over groups of leads (see
    funnel.analyses.partials)."""
    rows = segment_leads_of(inputs, deals, skipped=skipped)
    reach = [f"reached_{s}" for s in reported_stages(inputs)]
    amount = pl.col("won_amount").cast(pl.Float64)
    decimal = amount.is_finite() & (amount.abs() < DECIMAL_AMOUNT_LIMIT)
    counted = rows.group_by(SEG).agg(
        pl.len().cast(pl.Int64).alias("leads"), *[pl.col(r).sum().cast(pl.Int64) for r in reach],
        pl.col("closed_deals").sum().cast(pl.Int64), pl.col("won_deals").sum().cast(pl.Int64),
        pl.when(decimal).then(amount).otherwise(0.0).cast(WON_AMOUNT).sum().alias("won_amount"),
        pl.when(decimal).then(0.0).otherwise(amount).sum().alias("won_amount_rest"))
    risks = km_risk_table(rows.filter(pl.col("days_to_customer").is_not_null()), duration="days_to_customer",
                          observed="customer_observed", by=[SEG])
    return counted, risks


def segment_rows(inputs: AnalysisInputs, counted: pl.DataFrame, risks: pl.DataFrame) -> pl.DataFrame:
    """`segment_performance_of` from its sums and risk table (`segment_counts`)."""
    seg = inputs.settings.segments
    stages = reported_stages(inputs)
    reach = [f"reached_{s}" for s in stages]
    sums = ["leads", *reach, "closed_deals", "won_deals", "won_amount", "won_amount_rest"]
    total = counted.select([pl.col(c).sum() for c in sums]).with_columns(pl.lit(None, dtype=pl.Int32).alias(SEG))
    parts = [total]
    if inputs.by:
        parts.append(counted)
    counted = pl.concat([p.select(SEG, *sums) for p in parts], how="vertical_relaxed")
    table = (
        inputs.segment_spine().join(counted, on=SEG, how="left", nulls_equal=True)
        .with_columns([pl.col(c).fill_null(0).cast(pl.Int64) for c in ["leads", *reach, "closed_deals", "won_deals"]])
        .with_columns((pl.col("won_amount").cast(pl.Float64).fill_null(0.0)
                       + pl.col("won_amount_rest").fill_null(0.0)).alias("won_amount"))
    )
    everyone = int(table.filter(pl.col(SEG).is_null()).get_column("leads")[0])
    table = table.with_columns(
        (pl.col("leads") / everyone if everyone else pl.lit(None, dtype=pl.Float64)).alias("share"),
        (pl.col("leads") < seg.min_sample).alias("small_sample"),
    )
    rates = [(r, f"{r}_rate", "leads") for r in reach] + [("won_deals", "win_rate", "closed_deals")]
    for successes, prefix, trials in rates:
        table = with_rate(table, successes=successes, trials=trials, name=prefix)
        table = vs_rest(table, successes=successes, trials=trials, prefix=prefix, min_sample=seg.min_sample)
    table = _bh(table, [p for _, p, _ in rates], alpha=seg.alpha)

    km = [km_quantiles_of_risks(risks, by=None, quantiles=(0.5,)).with_columns(pl.lit(None, dtype=pl.Int32).alias(SEG))]
    if inputs.by and risks.height:
        km.append(km_quantiles_of_risks(risks, by=[SEG], quantiles=(0.5,)))
    medians = pl.concat([k.select(SEG, pl.col("p50").alias("median_days_to_customer")) for k in km],
                        how="vertical_relaxed")
    table = table.join(medians, on=SEG, how="left", nulls_equal=True)

    columns = [SEG, "leads", "share", "small_sample"]
    for successes, prefix, trials in rates:
        if prefix == "win_rate":
            columns += ["closed_deals", "won_deals"]
        else:
            columns.append(successes)
        columns += [prefix, f"{prefix}_lo", f"{prefix}_hi", f"{prefix}_p_value", f"{prefix}_q_value",
                    f"{prefix}_significant", f"{prefix}_small_sample"]
    columns += ["median_days_to_customer", "won_amount"]
    ordered = (table.with_columns(pl.col(SEG).is_null().alias("_total"))
               .sort(["_total", SEG], descending=[True, False], nulls_last=True).select(columns))
    return inputs.with_segments(ordered)


def _bh(table: pl.DataFrame, prefixes: Sequence[str], *, alpha: float) -> pl.DataFrame:
    """<prefix>_q_value and <prefix>_significant: Benjamini–Hochberg over all p-values of the table."""
    flat: list[float | None] = []
    for prefix in prefixes:
        flat.extend(table.get_column(f"{prefix}_p_value").to_list())
    q_values = bh_adjusted(flat)
    significant = benjamini_hochberg(flat, alpha=alpha)
    n = table.height
    columns = []
    for i, prefix in enumerate(prefixes):
        columns.append(pl.Series(f"{prefix}_q_value", q_values[i * n:(i + 1) * n], dtype=pl.Float64))
        columns.append(pl.Series(f"{prefix}_significant", significant[i * n:(i + 1) * n], dtype=pl.Boolean))
    return table.with_columns(columns)


def weak_segment_warning(performance: pl.DataFrame, *, by: Sequence[str], stage: str | None = None,
                         min_sample: int = 30) -> tuple[bool, str]:
    """(True, why) when most leads (more than half) sit in the segments with the lowest reach of
    `stage` (default: the last stage reported): the lowest third of the segments with at least
    `min_sample` leads, ranked by that rate. (False, why not) otherwise."""
    by = list(by)
    if not by:
        return False, "Pick a segment dimension to compare segments."
    rate_columns = [c for c in performance.columns if c.startswith("reached_") and c.endswith("_rate")]
    if stage is None and not rate_columns:
        return False, "The table has no reach rates."
    column = f"reached_{stage}_rate" if stage else rate_columns[-1]
    if column not in performance.columns:
        raise FunnelError(f"the segment table has no {column} column", hint=f"Use one of {', '.join(rate_columns)}")
    stage_name = column.removeprefix("reached_").removesuffix("_rate")
    is_segment = pl.any_horizontal([pl.col(d).is_not_null() for d in by])
    segments = performance.filter(is_segment)
    overall = performance.filter(~is_segment)
    everyone = int(segments.get_column("leads").sum())
    ranked = segments.filter((pl.col("leads") >= min_sample) & pl.col(column).is_not_null()).sort(column)
    if ranked.height < 2 or everyone == 0:
        return False, f"Too few segments with {min_sample}+ leads to compare."
    weakest = ranked.head(max(1, math.ceil(ranked.height / 3)))
    share = int(weakest.get_column("leads").sum()) / everyone
    names = [" × ".join(str(r[d]) for d in by) for r in weakest.iter_rows(named=True)]
    rates = ", ".join(f"{v:.1%}" for v in weakest.get_column(column).to_list())
    overall_rate = overall.get_column(column)[0] if overall.height else None
    overall_text = f"; overall {overall_rate:.1%}" if overall_rate is not None else ""
    text = (f"{share:.0%} of leads sit in {', '.join(names)} — the segments with the lowest "
            f"{stage_name} rates ({rates}{overall_text}).")
    if share > 0.5:
        return True, text + " Most of the volume is where conversion is weakest."
    return False, text
