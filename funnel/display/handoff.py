"""The Handoff & hygiene page's words and tables: breakdown and list labels, the line under the headline
numbers, and the segment table as shown."""

from __future__ import annotations

import polars as pl

from funnel.config import Settings
from funnel.display.segments import rate_text

BY_LABELS = {"source": "Source", "owner": "Owner"}
KIND_LABELS = {
    "breached": "Over the MQL SLA",
    "pending": "Pending",
    "untouched": "Never touched",
    "recycled": "Sent back",
    "bounced": "Bounced",
    "expired": "Expired",
    "accepted": "Accepted",
}
ALL_MQLS = "(all MQLs)"


def handoff_total(review: pl.DataFrame) -> dict:
    """The total row of `handoff_review` (every MQL of the period) as a dict."""
    return review.row(0, named=True)


def handoff_details(total: dict, settings: Settings) -> str:
    """The line under the headline numbers: the acceptance interval, p90 speed-to-lead, the conversion
    window and the MQL SLA in force."""
    low, high, p90 = total["acceptance_rate_lo"], total["acceptance_rate_hi"], total["speed_to_lead_p90_hours"]
    sla = settings.aging.sla_days.get("mql")
    return "  ·  ".join([
        "acceptance 95% interval: " + ("–" if low is None else f"{low:.0%}–{high:.0%}")
        + (" (small sample)" if total["small_sample"] else ""),
        "p90 speed-to-lead: " + ("not reached" if p90 is None else f"{p90:.1f} hours"),
        f"conversion window: {settings.conversion.window_days} days",
        "MQL SLA: " + ("none set" if sla is None else f"{sla} days"),
    ])


def handoff_segments(review: pl.DataFrame) -> pl.DataFrame:
    """`handoff_review` as the segment table shows it, narrow enough for 1440 px: the total row named "(all
    MQLs)", and the acceptance rate with its 95% interval as one text ("8.6% (8.0–9.3)", as the segment table
    writes a rate). Same rows in the same order."""
    shown = review.with_columns(pl.col("segment").fill_null(ALL_MQLS))
    if "acceptance_rate_lo" not in shown.columns:
        return shown
    return (shown.with_columns(rate_text("acceptance_rate").alias("acceptance_rate"))
            .drop("acceptance_rate_lo", "acceptance_rate_hi")
            .rename({"acceptance_rate": "Acceptance (95% interval)"}))

