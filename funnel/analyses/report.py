"""The `funnel metrics` report: the four core analyses as one JSON object or one flat CSV table.

JSON: {"as_of", "ladder", "window_days", "skipped_stages", "period", "by", "notes", "distribution",
"conversion", "aging", "segments"}. Rows for the whole population carry "segment": null; with a
`by` dimension, rows for each of its values follow with "segment": value. CSV: the same rows in one
table with a `section` column (distribution, conversion, aging, segments); segment reach is spread
over reached_<stage> and reached_<stage>_rate columns.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import duckdb
import polars as pl

from funnel.analyses.aging import aging_rows
from funnel.analyses.conversion import deal_losses, step_rows
from funnel.analyses.deals import only_wins_text
from funnel.analyses.distribution import distribution_rows
from funnel.analyses.inputs import analysis_inputs, conversion_policy
from funnel.analyses.partials import engine_report_parts, report_parts
from funnel.analyses.segments import lead_deals, reported_stages, segment_rows
from funnel.config import Settings
from funnel.engine import is_spark
from funnel.filters import LAST_DAY, Filters

__all__ = ["SECTIONS", "UNDATED_NOTE", "json_ready", "metrics_report", "report_table", "undated_metrics_report"]

SECTIONS = ("distribution", "conversion", "aging", "segments")


def json_ready(value: Any) -> Any:
    """JSON-ready: dates as ISO text, NaN as null, enums as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, date):
        return value.isoformat()
    return value


def _records(frame: pl.DataFrame, by: str | None, columns: list[str]) -> list[dict[str, Any]]:
    out = []
    for row in frame.iter_rows(named=True):
        record = {"segment": row[by] if by else None}
        record.update({c: json_ready(row[c]) for c in columns})
        out.append(record)
    return out


def metrics_report(con: duckdb.DuckDBPyConnection, filters: Filters, *, settings: Settings,
                   by: str | None = None, window_days: int | None = None) -> dict[str, Any]:
    """The four analyses as of filters.as_of as one JSON-ready dict (see the module docstring). Their counts are
    taken where the data is (funnel.analyses.partials): on an engine that computes per group of leads, inside its
    tasks; else over all leads here."""
    window, implicit = conversion_policy(settings, window_days, None)
    counted = engine_report_parts(con, filters, settings=settings, by=by, window_days=window) if is_spark(con) \
        else None
    if counted is None:
        inputs = analysis_inputs(con, filters, settings=settings, by=by)
        counted = inputs, report_parts(inputs, deal_losses(con, as_of=filters.as_of),
                                       lead_deals(con, as_of=filters.as_of), window_days=window)
    inputs, parts = counted
    distribution = distribution_rows(inputs, parts["distribution"])
    conversion = step_rows(inputs, parts["conversion"])
    aging = aging_rows(inputs, parts["aging"], parts["stays"])
    segments = segment_rows(inputs, parts["segments"], parts["to_customer"])
    labels = list(settings.aging.bucket_labels())
    stages = reported_stages(inputs)
    total = segments.filter(pl.col(by).is_null()) if by else segments
    everyone = total.row(0, named=True) if total.height else {}
    only_wins = only_wins_text(closed=everyone.get("closed_deals"), won=everyone.get("won_deals"))

    segment_records = []
    for row in segments.iter_rows(named=True):
        segment_records.append({
            "segment": row[by] if by else None,
            "leads": row["leads"],
            "share": json_ready(row["share"]),
            "small_sample": row["small_sample"],
            "reached": {s: row[f"reached_{s}"] for s in stages},
            "reached_rate": {s: json_ready(row[f"reached_{s}_rate"]) for s in stages},
            "reached_interval": {s: [json_ready(row[f"reached_{s}_rate_lo"]), json_ready(row[f"reached_{s}_rate_hi"])]
                                 for s in stages},
            "reached_significant": {s: row[f"reached_{s}_rate_significant"] for s in stages},
            "closed_deals": row["closed_deals"],
            "won_deals": row["won_deals"],
            "win_rate": json_ready(row["win_rate"]),
            "win_rate_interval": [json_ready(row["win_rate_lo"]), json_ready(row["win_rate_hi"])],
            "median_days_to_customer": json_ready(row["median_days_to_customer"]),
            "won_amount": json_ready(row["won_amount"]),
        })
    aging_records = _records(aging, by, ["stage", "leads", "median_days", "p80_days", "p90_days", "sla_days",
                                         "over_sla"])
    for record, row in zip(aging_records, aging.iter_rows(named=True), strict=True):
        record["buckets"] = {label: row[label] for label in labels}
    return {
        "as_of": filters.as_of.isoformat(),
        "ladder": filters.ladder,
        "window_days": window,
        "skipped_stages": "implicit" if implicit else "strict",
        "period": {"from": json_ready(filters.period_start), "to": filters.cohort_end.isoformat()},
        "by": by,
        "notes": [*inputs.notes, *([only_wins] if only_wins else [])],
        "distribution": _records(distribution, by, ["stage", "leads", "share"]),
        "conversion": _records(conversion, by, ["from_stage", "to_stage", "entered", "advanced", "lost", "expired",
                                                "open", "rate", "rate_lo", "rate_hi", "excluded", "implied"]),
        "aging": aging_records,
        "segments": segment_records,
    }


UNDATED_NOTE = ("The store holds no dated rows, so there is no as-of date: distribution and segments count each "
                "lead in its current stage; conversion and aging need dates (lead created_at, stage entry dates, "
                "activity or deal dates) and are left empty. Map a date column of the export to one of them to "
                "get them.")


def undated_metrics_report(con: duckdb.DuckDBPyConnection, *, ladder: str, settings: Settings,
                           by: str | None = None, window_days: int | None = None) -> dict[str, Any]:
    """The report of a store without any dated row: the sections that need no dates (distribution and segments,
    every lead counted at its current stage), conversion and aging empty, `as_of` null and UNDATED_NOTE."""
    report = metrics_report(con, Filters(as_of=LAST_DAY, ladder=ladder), settings=settings, by=by,
                            window_days=window_days)
    report.update(as_of=None, period={"from": None, "to": None}, conversion=[], aging=[],
                  notes=[*report["notes"], UNDATED_NOTE])
    return report


def report_table(report: dict[str, Any]) -> pl.DataFrame:
    """The report as one flat table with a `section` column (for CSV)."""
    rows: list[dict[str, Any]] = []
    for section in SECTIONS:
        for record in report[section]:
            flat: dict[str, Any] = {"section": section}
            for key, value in record.items():
                if isinstance(value, dict):
                    for stage, inner in value.items():
                        if key == "buckets":
                            flat[f"days_{stage}"] = inner
                        elif key == "reached":
                            flat[f"reached_{stage}"] = inner
                        elif key == "reached_rate":
                            flat[f"reached_{stage}_rate"] = inner
                elif isinstance(value, list):
                    continue
                else:
                    flat[key] = value
            rows.append(flat)
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    data = {c: [row.get(c) for row in rows] for c in columns}
    return pl.DataFrame(data, strict=False)
