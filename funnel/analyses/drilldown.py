"""The rows behind every number: the leads counted in a stage, an outcome of a step, an aging
bucket or a segment, computed by the same functions as the numbers themselves."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date

import duckdb
import polars as pl
import pyarrow as pa

from funnel import schema as sc
from funnel.analyses.aging import aging_leads_of
from funnel.analyses.conversion import ALL_OUTCOMES, conversion_entries_of, deal_losses
from funnel.analyses.distribution import current_stages_of
from funnel.analyses.inputs import SEG, AnalysisInputs, analysis_inputs, conversion_policy
from funnel.analyses.partials import engine_per_group, frames_of, group_inputs, parts_table, shell_inputs
from funnel.analyses.segments import lead_deals, reported_stages, segment_leads_of
from funnel.config import Settings
from funnel.engine import bound_rows, is_spark
from funnel.errors import FunnelError
from funnel.filters import Filters
from funnel.store.db import frame, registered
from funnel.store.queries import sql_text

__all__ = ["KINDS", "NO_STAGE", "Selectors", "checked", "engine_rows_behind", "group_rows_behind", "leads_behind",
           "rows_behind"]

KINDS = ("distribution", "conversion", "aging", "segment")
NO_STAGE = "(no stage)"  # selects the leads with no stage yet in the distribution


def leads_behind(con: duckdb.DuckDBPyConnection, filters: Filters, *, settings: Settings, kind: str,
                 stage: str | None = None, from_stage: str | None = None, outcome: str | None = None,
                 cohort_month=None, bucket: str | None = None, over_sla: bool | None = None,
                 reached: str | None = None, won: bool | None = None,
                 segment: Mapping[str, str] | None = None, window_days: int | None = None,
                 skipped: str | None = None, history: pl.DataFrame | None = None,
                 leads: pl.DataFrame | None = None, prepared: AnalysisInputs | None = None) -> pl.DataFrame:
    """One row per lead (per entry for "conversion") behind a number: lead_id, name, email,
    company, owner, source, then the columns of the kind. Selectors (None = no restriction):
    - "distribution": stage (a stage name, or NO_STAGE);
    - "conversion": from_stage (required), outcome (advanced, lost, expired, open, excluded; None =
      every entry counted as entered), cohort_month (a date in the month);
    - "aging": stage, bucket (a label such as "8–30"), over_sla;
    - "segment": reached (a reported stage), won (has a won deal);
    and for every kind, segment = {dimension: value} (the segment's row of a table). `prepared`: the
    analysis inputs of `filters` (not segmented), when already prepared; read only when no segment is asked.
    On an engine that computes per group of leads (Spark), with nothing prepared, the rows are selected inside
    its tasks and only they come back (`engine_rows_behind`)."""
    if segment:
        extra = tuple((dimension, (str(value),)) for dimension, value in segment.items())
        filters = replace(filters, segments=filters.segments + extra)
    selectors = Selectors(kind=kind, stage=stage, from_stage=from_stage, outcome=outcome, cohort_month=cohort_month,
                          bucket=bucket, over_sla=over_sla, reached=reached, won=won, window_days=window_days,
                          skipped=skipped)
    checked(shell_inputs(filters, settings=settings), selectors)
    rows = engine_rows_behind(con, filters, settings=settings, selectors=selectors) \
        if is_spark(con) and prepared is None and history is None and leads is None else None
    if rows is None:
        inputs = prepared if prepared is not None and not segment else analysis_inputs(
            con, filters, settings=settings, history=history, leads=leads)
        rows = rows_behind(inputs, selectors, losses=deal_losses(con, as_of=filters.as_of) if kind == "conversion"
                           else None, deals=lead_deals(con, as_of=filters.as_of) if kind == "segment" else None)
    with registered(con, {"lead_ids": rows.select(sc.LEAD_ID).unique().to_arrow()}) as names:
        contacts = frame(con, sql_text("lead_contacts", lead_ids=names["lead_ids"]))
    # Aging rows are listed longest in the stage first (undated entries last); every other kind by lead id.
    aging = kind == "aging"
    order = [pl.col("days_in_stage").fill_null(-1), pl.col(sc.LEAD_ID)] if aging else [pl.col(sc.LEAD_ID)]
    return (rows.join(contacts, on=sc.LEAD_ID, how="left")
            .select(sc.LEAD_ID, sc.NAME, sc.EMAIL, sc.COMPANY, sc.OWNER, sc.SOURCE,
                    *[c for c in rows.columns if c != sc.LEAD_ID])
            .sort(order, descending=[True, False] if aging else [False], maintain_order=True))


@dataclass(frozen=True)
class Selectors:
    """Which rows behind a number (see `leads_behind`): the kind and its selectors, the segment aside."""
    kind: str
    stage: str | None = None
    from_stage: str | None = None
    outcome: str | None = None
    cohort_month: date | None = None
    bucket: str | None = None
    over_sla: bool | None = None
    reached: str | None = None
    won: bool | None = None
    window_days: int | None = None
    skipped: str | None = None


def checked(inputs: AnalysisInputs, selectors: Selectors) -> Selectors:
    """The selectors, or a FunnelError naming what is wrong (read of the settings' ladders alone, so it can be
    checked here before any task runs)."""
    kind = selectors.kind
    if kind not in KINDS:
        raise FunnelError(f"unknown kind {kind!r}", hint=f"Use one of {', '.join(KINDS)}")
    if kind == "distribution" and selectors.stage not in (None, NO_STAGE):
        inputs.rank_of(selectors.stage)
    if kind == "conversion":
        if selectors.from_stage is None:
            raise FunnelError("say which step: from_stage is needed for the rows behind a conversion")
        if selectors.outcome is not None and selectors.outcome not in ALL_OUTCOMES:
            raise FunnelError(f"unknown outcome {selectors.outcome!r}", hint=f"Use one of {', '.join(ALL_OUTCOMES)}")
        inputs.rank_of(selectors.from_stage, main_only=True)
        conversion_policy(inputs.settings, selectors.window_days, selectors.skipped)
    if kind == "segment":
        conversion_policy(inputs.settings, None, selectors.skipped)
        if selectors.reached is not None and selectors.reached not in reported_stages(inputs):
            raise FunnelError(f"reach of {selectors.reached!r} is not reported",
                              hint=f"Use one of {', '.join(reported_stages(inputs))}")
    return selectors


def rows_behind(inputs: AnalysisInputs, selectors: Selectors, *, losses: pl.DataFrame | None,
                deals: pl.DataFrame | None) -> pl.DataFrame:
    """The rows of `leads_behind` before the leads' contact columns, from prepared inputs (`losses`: the deal
    losses, for "conversion"; `deals`: the lead deals, for "segment"), the selectors `checked`."""
    kind, stage = selectors.kind, selectors.stage
    if kind == "distribution":
        rows = current_stages_of(inputs)
        if stage == NO_STAGE:
            rows = rows.filter(pl.col("stage_rank").is_null())
        elif stage is not None:
            rows = rows.filter(pl.col("stage_rank") == inputs.rank_of(stage))
        return rows.select(sc.LEAD_ID, inputs.stage_column("stage_rank", "stage"), sc.ENTERED_AT, sc.REASON, "basis")
    if kind == "conversion":
        outcome = selectors.outcome
        rank = inputs.rank_of(selectors.from_stage, main_only=True)
        rows = conversion_entries_of(inputs, losses, window_days=selectors.window_days,
                                     skipped=selectors.skipped).filter(pl.col("stage_rank") == rank)
        rows = rows.filter(pl.col("outcome") == outcome if outcome else pl.col("outcome") != "excluded")
        if selectors.cohort_month is not None:
            month = selectors.cohort_month.replace(day=1)
            rows = rows.filter(pl.col(sc.ENTERED_AT).dt.month_start().dt.date() == month)
        ids = inputs.population.select(sc.LEAD_ID, "lead_index").filter(pl.col("lead_index").is_not_null())
        rows = rows.join(ids, on="lead_index", how="left")
        return rows.select(sc.LEAD_ID, inputs.stage_column("stage_rank", "from_stage"), sc.ENTERED_AT, "implied",
                           "outcome", "decided_at", "days_to_decision",
                           inputs.stage_column("next_rank", "next_stage"), sc.REASON)
    if kind == "aging":
        rows = aging_leads_of(inputs).drop(SEG)
        if stage is not None:
            rows = rows.filter(pl.col("stage") == stage)
        if selectors.bucket is not None:
            rows = rows.filter(pl.col("bucket").cast(pl.String) == selectors.bucket)
        if selectors.over_sla is not None:
            rows = rows.filter(pl.col("over_sla").fill_null(False) == selectors.over_sla)
        return rows
    rows = segment_leads_of(inputs, deals, skipped=selectors.skipped).drop(SEG)
    if selectors.reached is not None:
        rows = rows.filter(pl.col(f"reached_{selectors.reached}"))
    if selectors.won is not None:
        rows = rows.filter((pl.col("won_deals") > 0) == selectors.won)
    return rows.with_columns(inputs.stage_column("furthest_rank", "furthest_stage")).drop("furthest_rank")


def group_rows_behind(history: pa.Table, facts: pa.Table, *rest: pa.Table, filters: Filters, settings: Settings,
                      selectors: Selectors, lead_rows: str | None) -> pa.Table:
    """`rows_behind` of one group of leads from the rows of its queries (`group_inputs`), as a `parts_table`."""
    inputs, losses, deals, _ = group_inputs(history, facts, rest, filters=filters, settings=settings, by=(),
                                            lead_rows=lead_rows)
    return parts_table({"rows": rows_behind(inputs, selectors, losses=losses, deals=deals)})


def engine_rows_behind(con: duckdb.DuckDBPyConnection, filters: Filters, *, settings: Settings,
                       selectors: Selectors, groups: int | None = None) -> pl.DataFrame | None:
    """`rows_behind` selected inside the engine's tasks, once per bucket of leads (`engine_per_group`): only the
    rows behind the number come back, not every lead's. None where the engine cannot (see `engine_per_group`) or
    no lead has any row: then they are selected as on one machine."""
    task = functools.partial(group_rows_behind, filters=filters, settings=settings, selectors=selectors)
    found = engine_per_group(con, filters, settings=settings, by=(), task=task, groups=groups)
    if found is None or not found.num_rows:
        return None
    rows = pl.concat(frames_of(found)["rows"], how="vertical_relaxed")
    bound_rows(con, rows.height)  # the engine's bound on a result brought back ($FUNNEL_SPARK_MAX_ROWS)
    return rows
