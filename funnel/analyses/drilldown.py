"""The rows behind every number: the leads counted in a stage, an outcome of a step, an aging
bucket or a segment, computed by the same functions as the numbers themselves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import duckdb
import polars as pl

from funnel import schema as sc
from funnel.analyses.aging import aging_leads_of
from funnel.analyses.conversion import ALL_OUTCOMES, conversion_entries_of, deal_losses
from funnel.analyses.distribution import current_stages_of
from funnel.analyses.inputs import SEG, AnalysisInputs, analysis_inputs
from funnel.analyses.segments import lead_deals, reported_stages, segment_leads_of
from funnel.config import Settings
from funnel.errors import FunnelError
from funnel.filters import Filters
from funnel.store.db import frame, registered
from funnel.store.queries import sql_text

__all__ = ["KINDS", "NO_STAGE", "leads_behind"]

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
    analysis inputs of `filters` (not segmented), when already prepared; read only when no segment is asked."""
    if kind not in KINDS:
        raise FunnelError(f"unknown kind {kind!r}", hint=f"Use one of {', '.join(KINDS)}")
    if segment:
        extra = tuple((dimension, (str(value),)) for dimension, value in segment.items())
        filters = replace(filters, segments=filters.segments + extra)
    inputs = prepared if prepared is not None and not segment else analysis_inputs(
        con, filters, settings=settings, history=history, leads=leads)

    if kind == "distribution":
        rows = current_stages_of(inputs)
        if stage == NO_STAGE:
            rows = rows.filter(pl.col("stage_rank").is_null())
        elif stage is not None:
            rows = rows.filter(pl.col("stage_rank") == inputs.rank_of(stage))
        rows = rows.select(sc.LEAD_ID, inputs.stage_column("stage_rank", "stage"), sc.ENTERED_AT, sc.REASON, "basis")
    elif kind == "conversion":
        if from_stage is None:
            raise FunnelError("say which step: from_stage is needed for the rows behind a conversion")
        if outcome is not None and outcome not in ALL_OUTCOMES:
            raise FunnelError(f"unknown outcome {outcome!r}", hint=f"Use one of {', '.join(ALL_OUTCOMES)}")
        rank = inputs.rank_of(from_stage, main_only=True)
        rows = conversion_entries_of(inputs, deal_losses(con, as_of=filters.as_of), window_days=window_days,
                                     skipped=skipped).filter(pl.col("stage_rank") == rank)
        rows = rows.filter(pl.col("outcome") == outcome if outcome else pl.col("outcome") != "excluded")
        if cohort_month is not None:
            rows = rows.filter(pl.col(sc.ENTERED_AT).dt.month_start().dt.date() == cohort_month.replace(day=1))
        ids = inputs.population.select(sc.LEAD_ID, "lead_index").filter(pl.col("lead_index").is_not_null())
        rows = rows.join(ids, on="lead_index", how="left")
        rows = rows.select(sc.LEAD_ID, inputs.stage_column("stage_rank", "from_stage"), sc.ENTERED_AT, "implied",
                           "outcome", "decided_at", "days_to_decision",
                           inputs.stage_column("next_rank", "next_stage"), sc.REASON)
    elif kind == "aging":
        rows = aging_leads_of(inputs).drop(SEG)
        if stage is not None:
            rows = rows.filter(pl.col("stage") == stage)
        if bucket is not None:
            rows = rows.filter(pl.col("bucket").cast(pl.String) == bucket)
        if over_sla is not None:
            rows = rows.filter(pl.col("over_sla").fill_null(False) == over_sla)
    else:
        rows = segment_leads_of(inputs, lead_deals(con, as_of=filters.as_of), skipped=skipped).drop(SEG)
        if reached is not None:
            if reached not in reported_stages(inputs):
                raise FunnelError(f"reach of {reached!r} is not reported",
                                  hint=f"Use one of {', '.join(reported_stages(inputs))}")
            rows = rows.filter(pl.col(f"reached_{reached}"))
        if won is not None:
            rows = rows.filter((pl.col("won_deals") > 0) == won)
        rows = rows.with_columns(inputs.stage_column("furthest_rank", "furthest_stage")).drop("furthest_rank")

    with registered(con, {"lead_ids": rows.select(sc.LEAD_ID).unique().to_arrow()}) as names:
        contacts = frame(con, sql_text("lead_contacts", lead_ids=names["lead_ids"]))
    # Aging rows are listed longest in the stage first (undated entries last); every other kind by lead id.
    aging = kind == "aging"
    order = [pl.col("days_in_stage").fill_null(-1), pl.col(sc.LEAD_ID)] if aging else [pl.col(sc.LEAD_ID)]
    return (rows.join(contacts, on=sc.LEAD_ID, how="left")
            .select(sc.LEAD_ID, sc.NAME, sc.EMAIL, sc.COMPANY, sc.OWNER, sc.SOURCE,
                    *[c for c in rows.columns if c != sc.LEAD_ID])
            .sort(order, descending=[True, False] if aging else [False], maintain_order=True))
