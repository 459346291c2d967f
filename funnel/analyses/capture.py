"""Capture audit: which segmentation fields leads carry, by entry point, and which fields earn
their place on a form (how much knowing them goes with later conversion).

A field is filled when the lead has it, or its account does (firmographics). The entry point is
the lead's source, or the campaign or URL of its first recorded activity. Conversion is reaching a
lifecycle stage (default `sql`) by D. Lift is a difference in conversion between leads with and
without the field, with Wilson intervals for each rate and a two-proportion test, Benjamini–
Hochberg controlled across the fields; it is association, not cause (fields filled late are
often filled *because* sales worked the lead).

What the data cannot show: fill rate at creation versus 30 or 90 days later needs each record's
value over time. The store keeps the versions an import replaced, so progressive profiling is
only visible across monthly imports of the same records; a single export shows today's fill
only, and this module does not pretend otherwise. Form views → submissions per form need
form-view events, which CRM exports do not carry (form fills only), so form funnels are not
computed here.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import duckdb
import polars as pl

from funnel import schema as sc
from funnel.errors import FunnelError
from funnel.stats import bh_adjusted, two_proportion_p_value, wilson_interval
from funnel.store.db import frame
from funnel.store.queries import sql_text

__all__ = ["CAPTURE_FIELDS", "ENTRY_POINTS", "capture_frame", "data_quality_note", "field_conversion_lift",
           "field_fill_rates"]

CAPTURE_FIELDS: tuple[str, ...] = ("title", "phone", "company", "industry", "employees", "country")
ENTRY_POINTS: tuple[str, ...] = ("source", "campaign", "url")
FORM_COMPLETION_TARGET = 0.60  # seed two: form completion above 60%


def _until(as_of: date) -> datetime:
    return datetime.combine(as_of + timedelta(days=1), time())


def capture_frame(con: duckdb.DuckDBPyConnection, *, as_of: date, stage: str = "sql") -> pl.DataFrame:
    """One row per lead created by D: lead_id, source, campaign, url, a boolean per field in
    CAPTURE_FIELDS (and owner, created_at), converted (reached `stage` by D)."""
    sql = sql_text("capture_fields", leads=sc.LEADS.name, accounts=sc.ACCOUNTS.name,
                   stage_events=sc.STAGE_EVENTS.name, activities=sc.ACTIVITIES.name)
    return frame(con, sql, {"stage": stage, "until": _until(as_of)})


def field_fill_rates(captured: pl.DataFrame, *, by: str = "source") -> pl.DataFrame:
    """One row per entry-point value and field: by value (null = unknown), field, leads, filled,
    fill_rate (null when no leads), below_target (fill rate under the seed's 60%)."""
    if by not in ENTRY_POINTS:
        raise FunnelError(f"there is no entry point called {by!r}", hint=f"Use one of: {', '.join(ENTRY_POINTS)}")
    long = captured.unpivot(index=[by], on=list(CAPTURE_FIELDS), variable_name="field", value_name="filled")
    return (long.group_by(by, "field").agg(pl.len().alias("leads"), pl.col("filled").sum().alias("filled"))
            .with_columns((pl.col("filled") / pl.col("leads")).alias("fill_rate"))
            .with_columns((pl.col("fill_rate") < FORM_COMPLETION_TARGET).alias("below_target"))
            .sort([by, "field"], nulls_last=True))


def field_conversion_lift(captured: pl.DataFrame) -> pl.DataFrame:
    """One row per field: with/without leads and conversions, both rates with Wilson intervals,
    lift (rate with − rate without; null when a group is empty), p_value, q_value (BH)."""
    rows = []
    for field in CAPTURE_FIELDS:
        g = captured.group_by(field).agg(pl.len().alias("n"), pl.col("converted").sum().alias("s"))
        got = {k: (int(n), int(s)) for k, n, s in g.iter_rows()}
        n1, s1 = got.get(True, (0, 0))
        n0, s0 = got.get(False, (0, 0))
        r1 = s1 / n1 if n1 else None
        r0 = s0 / n0 if n0 else None
        lo1, hi1 = wilson_interval(s1, n1)
        lo0, hi0 = wilson_interval(s0, n0)
        rows.append({"field": field, "leads_with": n1, "converted_with": s1, "rate_with": r1, "with_low": lo1,
                     "with_high": hi1, "leads_without": n0, "converted_without": s0, "rate_without": r0,
                     "without_low": lo0, "without_high": hi0,
                     "lift": r1 - r0 if r1 is not None and r0 is not None else None,
                     "p_value": two_proportion_p_value(s1, n1, s0, n0)})
    floats = ("rate_with", "with_low", "with_high", "rate_without", "without_low", "without_high", "lift", "p_value")
    schema = {k: (pl.Float64() if k in floats else pl.String() if k == "field" else pl.Int64()) for k in rows[0]}
    out = pl.DataFrame(rows, schema=schema)
    return out.with_columns(pl.Series("q_value", bh_adjusted(out["p_value"].to_list()), dtype=pl.Float64))


def data_quality_note(captured: pl.DataFrame, *, lead_ids: pl.Series | None = None) -> pl.DataFrame:
    """One row per thing a page's numbers need (creation date, owner, firmographics = industry and
    employees): leads (those behind the numbers, all when `lead_ids` is None), lacking, share
    (null when there are none)."""
    leads = captured if lead_ids is None else captured.join(lead_ids.to_frame(sc.LEAD_ID), on=sc.LEAD_ID, how="semi")
    needs = {"creation date": pl.col("created_at"), "owner": pl.col("owner"),
             "firmographics (industry and size)": pl.col("industry") & pl.col("employees")}
    n = leads.height
    rows = [{"need": need, "leads": n, "lacking": int(leads.select((~expr).sum()).item() or 0)}
            for need, expr in needs.items()]
    return pl.DataFrame(rows).with_columns(
        pl.when(pl.col("leads") > 0).then(pl.col("lacking") / pl.col("leads")).otherwise(None).alias("share"))
