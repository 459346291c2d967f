"""The monthly review as a report to share: one JSON document with every figure, and one
self-contained HTML file (charts embedded as Plotly JSON with the plotly.js bundled in the plotly
package; no external URL, works offline). Data values appear only as escaped text.

The document says the month, the data it was computed from (files, rows, newest timestamp), the
settings version, and what each number means.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import duckdb
import polars as pl

from funnel.analyses.monthly import MonthlyReview
from funnel.display.segments import EVERYONE
from funnel.model.history import table_spans
from funnel.schema import IMPORTS, SETTINGS_VERSIONS
from funnel.store.db import frame, scalar
from funnel.store.inventory import newest_of

__all__ = ["DEFINITIONS", "data_provenance", "frame_records", "review_document", "review_html"]

DEFINITIONS: dict[str, str] = {
    "headline": "New leads: leads first seen in the month (created, or their first stage entry). entered_<stage>: "
                "distinct leads with a dated entry into that stage in the month. Won deals and won amount: deals "
                "won with a close date (else creation date) in the month.",
    "distribution": "Leads in each stage at the end of each month's last day (their latest stage entry by then); "
                    "(no stage) = leads without any stage entry yet. Equals `funnel metrics --as-of <month end>`.",
    "conversion": "The entries into each stage during the month, each with its outcome as of the as-of date: "
                  "advanced (entered a later stage within the conversion window), lost/recycled, expired, or "
                  "still open. Rate = advanced ÷ (advanced + lost + expired), with its 95% Wilson interval; open "
                  "entries are shown, never counted as failures, so a young month is mostly open.",
    "aging": "Leads in each stage at each month end and how many had been there longer than the stage's SLA.",
    "handoff": "The MQL entries of the month (handoffs) and their outcome as of the as-of date: accepted (moved "
               "to SQL or later within the window), recycled, expired or pending; acceptance rate with its "
               "interval; speed-to-lead = hours from MQL to the first sales touch (Kaplan–Meier, untouched "
               "handoffs censored).",
    "deals": "The deals that closed in each month (by their account's dimension when the review is segmented by "
             "one: industry, size band, product, owner, country, pipeline, source): closed, won, win rate = won ÷ "
             "closed with its 95% Wilson interval, won amount.",
    "segment_health": "Per step and segment: its rate and its share of the decided entries this month and last "
                      "month. The change of the overall rate splits exactly into mix = Σ (w_now − w_then)·r_then "
                      "and rate = Σ w_now·(r_now − r_then); a segment without decided entries last month takes "
                      "last month's overall rate as r_then.",
    "highlights": "Only changes beyond chance: this month against last month, Fisher's exact test where an "
                  "expected count is under 5 (else the two-proportion z-test), Benjamini–Hochberg over every "
                  "change tested in the review (false discovery rate = the settings' alpha).",
    "where_to_invest": "Segments ranked by their reach of the last stage (95% interval), each compared with the "
                       "rest of the leads beyond chance (Fisher/z-test, Benjamini–Hochberg); outliers = segments of "
                       "leads that match no ICP and still convert better than the rest beyond chance; ICP criteria "
                       "and activity types whose lift (conversion to opportunity with it ÷ without it) changed "
                       "between the last two quarter ends (the 95% intervals do not overlap).",
}

SECTION_TITLES = {
    "headline": "Headline numbers", "distribution": "Distribution at each month end",
    "conversion": "Step conversion of each month's entries", "aging": "Aging: leads over SLA at each month end",
    "handoff": "Handoff acceptance and speed-to-lead", "deals": "Deals closed in each month",
    "segment_health": "Segment health",
}


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def frame_records(table: pl.DataFrame) -> list[dict[str, Any]]:
    """A frame as JSON-ready records (dates as ISO text, enums as text, NaN as null)."""
    if not table.width:
        return []
    text = table.with_columns([pl.col(c).cast(pl.String) for c, t in table.schema.items()
                               if isinstance(t, pl.Enum | pl.Categorical)])
    return [{k: _clean(v) for k, v in row.items()} for row in text.iter_rows(named=True)]


def data_provenance(con: duckdb.DuckDBPyConnection, *, settings_source: str | None = None) -> dict[str, Any]:
    """The files behind the figures (active imports), the newest timestamp and the settings version."""
    files = frame(con, f"SELECT file_name, table_name, rows, imported_at FROM {IMPORTS} "
                       "WHERE removed_at IS NULL ORDER BY import_id")
    version = scalar(con, f"SELECT max(version) FROM {SETTINGS_VERSIONS}")
    settings = settings_source or (f"saved settings version {version}" if version else "the packaged defaults")
    newest = newest_of(table_spans(con))
    return {"files": frame_records(files), "rows": int(files.get_column("rows").sum() or 0) if files.height else 0,
            "newest_timestamp": _clean(newest), "settings": settings}


def review_document(review: MonthlyReview, *, invest: Mapping[str, pl.DataFrame] | None,
                    provenance: Mapping[str, Any]) -> dict[str, Any]:
    """Every figure of the review as one JSON-ready dict."""
    months = {label: month.strftime("%Y-%m") for label, month in review.months.items()}
    return {
        "month": months["current"],
        "months": months,
        "as_of": review.as_of.isoformat(),
        "ladder": review.ladder,
        "by": review.by,
        "data": dict(provenance),
        "definitions": DEFINITIONS,
        "notes": list(review.notes),
        "highlights": frame_records(review.highlights),
        "headline": frame_records(review.headline),
        "distribution": frame_records(review.distribution),
        "conversion": frame_records(review.conversion),
        "aging": frame_records(review.aging),
        "handoff": frame_records(review.handoff),
        "deals": frame_records(review.deals),
        "segment_health": frame_records(review.segment_health),
        "changes_tested": frame_records(review.changes),
        "where_to_invest": {name: frame_records(table) for name, table in (invest or {}).items()},
    }


# ------------------------------------------------------------------------------------------ HTML

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:2rem auto;max-width:1200px;
color:#222;padding:0 1rem;line-height:1.4}
h1{font-size:1.7rem;margin-bottom:.2rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0;display:block;overflow-x:auto}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:right;white-space:nowrap}
th{background:#f4f4f4}td.text{text-align:left}.meaning{color:#555;font-size:.9rem;max-width:70rem}
.chart{width:100%;min-height:420px}li{margin:.3rem 0}.meta{color:#444;font-size:.9rem}
"""


def _cell(value: Any, column: str) -> tuple[str, bool]:
    """A cell as escaped text (rates and shares as percentages), and whether it is text."""
    if value is None:
        return "", False
    if isinstance(value, bool):
        return ("yes" if value else "no"), True
    if isinstance(value, float):
        if column == "change":
            return f"{value * 100:+.1f} pts", False
        if "rate" in column or "share" in column or column.endswith("_part") or column.startswith("acceptance"):
            return f"{value:.1%}", False
        return f"{value:,.2f}", False
    if isinstance(value, int):
        return f"{value:,}", False
    return html.escape(str(value)), True


def _table(records: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    if not records:
        return "<p class='meaning'>No rows.</p>"
    columns = columns or list(records[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for record in records:
        cells = []
        for column in columns:
            text, is_text = _cell(record.get(column), column)
            cells.append(f"<td class='text'>{text}</td>" if is_text else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _figure(name: str, figure: Mapping[str, Any]) -> str:
    """A chart as a div and the script that draws it from its embedded JSON."""
    payload = json.dumps({"data": figure.get("data", []), "layout": figure.get("layout", {})},
                         ensure_ascii=False, default=str).replace("</", "<\\/")
    ident = "chart-" + "".join(ch if ch.isalnum() else "-" for ch in name)
    return (f"<div id='{ident}' class='chart'></div><script>(function(){{var f={payload};"
            f"Plotly.newPlot('{ident}',f.data,f.layout,{{displaylogo:false,responsive:true,staticPlot:false}});}})();"
            "</script>")


def review_html(document: Mapping[str, Any], figures: Mapping[str, Mapping[str, Any]]) -> str:
    """The review as one self-contained HTML page. `figures` are Plotly figure dicts (name →
    {"data", "layout"}; a name starting with a section's key is drawn in that section), drawn by the
    plotly.js bundled in the plotly package, inlined in the page."""
    from plotly.offline import get_plotlyjs

    esc = html.escape
    script = get_plotlyjs().replace("</script", "<\\/script")
    data = document["data"]
    files = "".join(f"<li>{esc(str(f['file_name']))} → {esc(str(f['table_name']))}: {f['rows']:,} rows "
                    f"(imported {esc(str(f['imported_at'])[:16])})</li>" for f in data["files"])
    months = document["months"]
    compared = ", ".join(esc(f"{label.replace('_', ' ')} {month}") for label, month in months.items())
    highlights = "".join(f"<li>{esc(h['sentence'])}</li>" for h in document["highlights"]) or \
        "<li>No change since last month is beyond chance (after Benjamini–Hochberg across every change tested).</li>"
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        ("<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; script-src 'unsafe-inline' "
         "'unsafe-eval'; style-src 'unsafe-inline'; img-src data:; font-src data:\">"),
        f"<title>Monthly review {esc(document['month'])}</title><style>{_STYLE}</style>",
        f"<script>{script}</script></head><body>",
        f"<h1>Monthly review: {esc(document['month'])}</h1>",
        (f"<p class='meta'>Compared: {compared}. Computed as of the end of {esc(document['as_of'])} on the "
         f"{esc(document['ladder'])} ladder{'; segments by ' + esc(document['by']) if document['by'] else ''}.</p>"),
        (f"<p class='meta'>Data: {data['rows']:,} rows imported; newest timestamp "
         f"{esc(str(data['newest_timestamp']))}; settings: {esc(str(data['settings']))}.</p>"),
        f"<details><summary>Files</summary><ul>{files}</ul></details>",
        *[f"<p class='meta'>{esc(note)}</p>" for note in document["notes"]],
        "<h2>Highlights</h2>", f"<p class='meaning'>{esc(DEFINITIONS['highlights'])}</p>", f"<ul>{highlights}</ul>",
    ]
    for section in ("headline", "distribution", "conversion", "aging", "handoff", "deals", "segment_health"):
        records = document[section]
        if section in ("handoff", "deals", "segment_health") and not records:
            continue
        if section == "segment_health" and document["by"]:  # the total row, as the page names it
            by = document["by"]
            records = [{**r, by: EVERYONE if r.get(by) is None else r[by]} for r in records]
        parts.append(f"<h2>{esc(SECTION_TITLES[section])}</h2>")
        parts.append(f"<p class='meaning'>{esc(DEFINITIONS[section])}</p>")
        for name, figure in figures.items():
            if name.startswith(section):
                parts.append(_figure(name, figure))
        parts.append(_table(records))
    invest = document.get("where_to_invest") or {}
    if invest:
        parts.append("<h2>Where to invest</h2>")
        parts.append(f"<p class='meaning'>{esc(DEFINITIONS['where_to_invest'])}</p>")
        for name, title in (("ranking", "Segments ranked"), ("outliers", "Converting well without an ICP match"),
                            ("icp_lift", "ICP criteria and activity types: lift now and a quarter earlier")):
            if name in invest:
                parts.append(f"<h3>{esc(title)}</h3>{_table(invest[name])}")
    parts.append("</body></html>")
    return "\n".join(parts)
