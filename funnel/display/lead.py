"""One lead as the Lead page shows it: its card (stage, scores, routing, evidence) computed for that lead
alone, and the sentences that state its fit and intent scores."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import duckdb
import polars as pl

from funnel.analyses.lead_search import lead_card
from funnel.config import Settings
from funnel.display.labels import stage_label, value_label
from funnel.model.scoring import FIT_SCORE, INTENT_SCORE, leads_report


@dataclass(frozen=True)
class LeadView:
    """The card (a two-column table of readable text) and the sentences stating the lead's scores."""

    card: pl.DataFrame
    fit_text: str
    intent_text: str


def _when(value: object) -> object:
    """A timestamp as a date (at midnight) or a date and minute; other values as they are."""
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d}" if value.time() == datetime.min.time() else f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, date):
        return f"{value:%Y-%m-%d}"
    return value


def readable_card(row: dict) -> pl.DataFrame:
    """`lead_card` of a `leads_report` row with its stages, quadrant and dates in people's words."""
    shown = {**row}
    for key in ("funnel_stage", "lifecycle_stage"):
        if shown.get(key) is not None:
            shown[key] = stage_label(shown[key])
    if shown.get("quadrant") is not None:
        shown["quadrant"] = value_label(shown["quadrant"])
    for key in ("stage_entered_at", "next_action_due"):
        shown[key] = _when(shown.get(key))
    return lead_card(shown)


def lead_view(con: duckdb.DuckDBPyConnection, lead_id: str, *, settings: Settings, as_of: date) -> LeadView | None:
    """The lead's card as of the end of `as_of`, computed for this lead only; None when the lead did
    not exist yet (created after `as_of`) or is unknown."""
    report = leads_report(con, settings=settings, as_of=as_of, lead_ids=[lead_id])
    if report.is_empty():
        return None
    row = report.row(0, named=True)
    return LeadView(
        card=readable_card(row),
        fit_text=f"Fit score: {row[FIT_SCORE]:g} (the best profile's matched points, at most 100)",
        intent_text=f"Intent score: {row[INTENT_SCORE]:.1f} (weight × decay, after type caps and the cap)",
    )
