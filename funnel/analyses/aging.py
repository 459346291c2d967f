"""Aging at D: how long each lead has been in its current stage, in buckets and against SLAs, and
how long stays in each stage last (Kaplan–Meier, with the leads still there censored at D).

Days in stage = D minus the day of the entry (whole calendar days). Buckets come from
`aging.buckets` (0–7, 8–30, 31–90, 90+ by default); a lead is over SLA when its days in stage
exceed the stage's `aging.sla_days` (stages without an SLA show null). Leads placed from their
current stage alone count from their created date; leads without any date have no bucket.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import polars as pl

from funnel import schema as sc
from funnel.analyses.inputs import SEG, AnalysisInputs, analysis_inputs, moves_known, with_total
from funnel.config import Settings
from funnel.filters import Filters
from funnel.stats import km_quantiles_of_risks, km_risk_table

__all__ = ["aging_buckets", "aging_buckets_of", "aging_counts", "aging_leads", "aging_leads_of", "aging_rows",
           "bucket_rows", "stage_aging", "stage_aging_of", "stay_risks"]


def aging_leads(con: duckdb.DuckDBPyConnection, filters: Filters, *, settings: Settings,
                by: str | Sequence[str] | None = None, history: pl.DataFrame | None = None,
                leads: pl.DataFrame | None = None) -> pl.DataFrame:
    """The leads behind the aging numbers. See `aging_leads_of`."""
    inputs = analysis_inputs(con, filters, settings=settings, by=by, history=history, leads=leads)
    return inputs.with_segments(aging_leads_of(inputs))


def aging_leads_of(inputs: AnalysisInputs) -> pl.DataFrame:
    """One row per lead in a stage at D (seg_key kept; longest in stage first): lead_id, stage,
    entered_at, days_in_stage (null without a date), bucket, sla_days (null: no SLA), over_sla, basis."""
    return (_aged(inputs)
            .sort(SEG, "stage_rank", "days_in_stage", sc.LEAD_ID, descending=[False, False, True, False],
                  nulls_last=True)
            .select(sc.LEAD_ID, SEG, inputs.stage_column("stage_rank", "stage"), sc.ENTERED_AT, "days_in_stage",
                    "bucket", "sla_days", "over_sla", "basis"))


def _aged(inputs: AnalysisInputs) -> pl.DataFrame:
    """The leads in a stage at D with days_in_stage, bucket, sla_days and over_sla (by stage_rank)."""
    aging = inputs.settings.aging
    labels = list(aging.bucket_labels())
    names = inputs.stage_names
    sla = [aging.sla_days.get(name) for name in names]
    days = pl.col("days_in_stage")
    bucket = pl.sum_horizontal([(days > bound).cast(pl.Int8) for bound in aging.buckets])
    return (
        inputs.population.lazy()
        .select(sc.LEAD_ID, SEG, "stage_rank", sc.ENTERED_AT, "basis")
        .filter(pl.col("stage_rank").is_not_null())
        .with_columns(inputs.days_to_as_of(sc.ENTERED_AT).alias("days_in_stage"))
        .with_columns(
            pl.when(days.is_not_null()).then(bucket).replace_strict(
                list(range(len(labels))), labels, default=None, return_dtype=pl.Enum(labels)).alias("bucket"),
            pl.col("stage_rank").replace_strict(list(range(len(names))), sla, default=None,
                                                return_dtype=pl.Int64).alias("sla_days"),
        )
        .with_columns((days > pl.col("sla_days")).alias("over_sla"))
        .collect()
    )


def aging_buckets(con: duckdb.DuckDBPyConnection, filters: Filters, *, settings: Settings,
                  by: str | Sequence[str] | None = None, history: pl.DataFrame | None = None,
                  leads: pl.DataFrame | None = None) -> pl.DataFrame:
    """Leads per stage and aging bucket. See `aging_buckets_of`."""
    inputs = analysis_inputs(con, filters, settings=settings, by=by, history=history, leads=leads)
    return aging_buckets_of(inputs)


def aging_buckets_of(inputs: AnalysisInputs) -> pl.DataFrame:
    """One row per stage, bucket (null: entries without a date) and segment (total first): leads."""
    return bucket_rows(inputs, aging_counts(inputs))


def bucket_rows(inputs: AnalysisInputs, counted: pl.DataFrame) -> pl.DataFrame:
    """`aging_buckets_of` from the counts of `aging_counts`: each bucket's leads, and the undated ones (leads
    less dated) where there are any."""
    labels = list(inputs.settings.aging.bucket_labels())
    sums = ["leads", "dated", *labels]
    merged = with_total(counted, keys=["stage_rank"]).select(SEG, "stage_rank", *sums)
    bucket = pl.Enum(labels)
    dated = merged.unpivot(on=labels, index=[SEG, "stage_rank"], variable_name="bucket", value_name="_leads")
    undated = (merged.filter(pl.col("leads") > pl.col("dated"))
               .select(SEG, "stage_rank", pl.lit(None, dtype=bucket).alias("bucket"),
                       (pl.col("leads") - pl.col("dated")).alias("_leads"))
               .join(inputs.segment_spine(), on=SEG, nulls_equal=True))
    grid = (pl.DataFrame({"stage_rank": list(range(len(inputs.stage_names)))}, schema={"stage_rank": pl.Int32})
            .join(pl.DataFrame({"bucket": labels}, schema={"bucket": bucket}), how="cross"))
    result = (
        pl.concat([inputs.segment_spine().join(grid, how="cross")
                   .join(dated.with_columns(pl.col("bucket").cast(bucket)), on=[SEG, "stage_rank", "bucket"],
                         how="left", nulls_equal=True),
                   undated])
        .with_columns(pl.col("_leads").fill_null(0).cast(pl.Int64))
        .with_columns(pl.col(SEG).is_null().alias("_total"))
        .sort(["_total", SEG, "stage_rank", "bucket"], descending=[True, False, False, False], nulls_last=True)
        .select(SEG, inputs.stage_column("stage_rank", "stage"), "bucket", pl.col("_leads").alias("leads"))
    )
    return inputs.with_segments(result)


def stage_aging(con: duckdb.DuckDBPyConnection, filters: Filters, *, settings: Settings,
                by: str | Sequence[str] | None = None, history: pl.DataFrame | None = None,
                leads: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per current stage: leads, time in stage and SLA breaches. See `stage_aging_of`."""
    inputs = analysis_inputs(con, filters, settings=settings, by=by, history=history, leads=leads)
    return stage_aging_of(inputs)


def stage_aging_of(inputs: AnalysisInputs) -> pl.DataFrame:
    """One row per stage of the ladder and segment (total first): leads (in the stage at D), dated
    (of those, with a date), median_days, p80_days, p90_days (Kaplan–Meier time in stage over every
    dated stay whose entry lies in the cohort period: stays that ended are events, stays still open
    at D are censored at D minus the entry; null when too few ended), stays (stays in the estimate),
    sla_days, over_sla (null when the stage has no SLA), then one column of leads per aging bucket."""
    return aging_rows(inputs, aging_counts(inputs), stay_risks(inputs))


def aging_counts(inputs: AnalysisInputs) -> pl.DataFrame:
    """seg_key, stage_rank, leads, dated, over_sla and one count per aging bucket: the leads in each stage at D
    (counts that add up over groups of leads: see funnel.analyses.partials)."""
    labels = list(inputs.settings.aging.bucket_labels())
    return _aged(inputs).group_by(SEG, "stage_rank").agg(
        pl.len().cast(pl.Int64).alias("leads"),
        pl.col("days_in_stage").is_not_null().sum().cast(pl.Int64).alias("dated"),
        pl.col("over_sla").sum().cast(pl.Int64).alias("over_sla"),
        *[(pl.col("bucket") == label).sum().cast(pl.Int64).alias(label) for label in labels],
    )


def stay_risks(inputs: AnalysisInputs) -> pl.DataFrame:
    """The Kaplan–Meier risk table (`km_risk_table`) of every dated stay whose entry lies in the cohort period,
    per segment and stage: a stay that ended is an event, one still open at D is censored at D."""
    stays = (inputs.timeline.filter(moves_known() & inputs.in_period(sc.ENTERED_AT))
             .select(SEG, "stage_rank",
                     (pl.coalesce(pl.col("next_at").dt.date(), pl.lit(inputs.as_of))
                      - pl.col(sc.ENTERED_AT).dt.date()).dt.total_days().alias("days"),
                     pl.col("next_at").is_not_null().alias("left_stage")))
    return km_risk_table(stays, duration="days", observed="left_stage", by=[SEG, "stage_rank"])


def aging_rows(inputs: AnalysisInputs, counted: pl.DataFrame, risks: pl.DataFrame) -> pl.DataFrame:
    """`stage_aging_of` from its counts (`aging_counts`) and its stays' risk table (`stay_risks`)."""
    aging = inputs.settings.aging
    labels = list(aging.bucket_labels())
    names = inputs.stage_names
    sums = ["leads", "dated", "over_sla", *labels]
    counted = with_total(counted, keys=["stage_rank"])
    quantiles = [km_quantiles_of_risks(risks, by=["stage_rank"]).with_columns(pl.lit(None, dtype=pl.Int32).alias(SEG))]
    if inputs.by and risks.height:
        quantiles.append(km_quantiles_of_risks(risks, by=[SEG, "stage_rank"]))
    km = pl.concat([q.select(SEG, pl.col("stage_rank").cast(pl.Int32), "p50", "p80", "p90", "n") for q in quantiles],
                   how="vertical_relaxed")

    ranks = pl.DataFrame({"stage_rank": list(range(len(names)))}, schema={"stage_rank": pl.Int32})
    sla = [aging.sla_days.get(name) for name in names]
    result = (
        inputs.segment_spine().join(ranks, how="cross")
        .join(counted, on=[SEG, "stage_rank"], how="left", nulls_equal=True)
        .join(km, on=[SEG, "stage_rank"], how="left", nulls_equal=True)
        .with_columns([pl.col(c).fill_null(0).cast(pl.Int64) for c in sums])
        .with_columns(pl.col("stage_rank").replace_strict(list(range(len(names))), sla, default=None,
                                                          return_dtype=pl.Int64).alias("sla_days"))
        .with_columns(pl.when(pl.col("sla_days").is_not_null()).then(pl.col("over_sla")).alias("over_sla"),
                      pl.col("n").fill_null(0).cast(pl.Int64).alias("stays"),
                      pl.col(SEG).is_null().alias("_total"))
        .sort(["_total", SEG, "stage_rank"], descending=[True, False, False], nulls_last=True)
        .select(SEG, inputs.stage_column("stage_rank", "stage"), "leads", "dated",
                pl.col("p50").alias("median_days"), pl.col("p80").alias("p80_days"), pl.col("p90").alias("p90_days"),
                "stays", "sla_days", "over_sla", *labels)
    )
    return inputs.with_segments(result)
