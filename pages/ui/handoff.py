"""Render helpers of the Handoff & hygiene page: the headline numbers, the segment table, the lists of
handoffs and flagged leads with their downloads."""

from __future__ import annotations

from datetime import date

import polars as pl
import streamlit as st

from funnel.charts import handoff as charts_handoff
from funnel.display.handoff import BY_LABELS, KIND_LABELS, handoff_segments
from funnel.filters import Filters
from pages.ui import cache
from pages.ui.widgets import figure, leads_table, selected_row, table


def headline(total: dict) -> None:
    """MQLs, acceptance rate, median speed-to-lead and SLA breaches of every MQL in the period."""
    left, middle, right, far = st.columns(4)
    left.metric("MQLs", total["mqls"], format="%,d", border=True,
                help="Entries into MQL in the period. A lead that returns to MQL counts once per entry.")
    middle.metric("Acceptance rate", total["acceptance_rate"], format="percent", border=True,
                  help="Accepted ÷ (accepted + sent back + expired). Pending handoffs are not counted as failures.")
    right.metric("Median speed-to-lead (hours)", total["speed_to_lead_median_hours"], format="%.1f", border=True,
                 help="From the MQL entry to the first sales touch. Handoffs never touched count as still "
                      "waiting (Kaplan–Meier), not as fast or left out.")
    far.metric("SLA breaches", total["sla_breaches"], format="%,d", border=True,
               help="Handoffs that sat at MQL longer than the MQL SLA (aging.sla_days on the Rules page) before "
                    "their first move, or are still waiting.")


def segment_table(review: pl.DataFrame, by: str) -> str | None:
    """The review by segment, selectable; returns the selected segment (None: every handoff)."""
    selection = table(
        handoff_segments(review), key=f"handoff_table_{by}", on_select="rerun",
        selection_mode="single-row",
        column_config_overrides={"segment": st.column_config.TextColumn(BY_LABELS[by], pinned=True)})
    row = selected_row(selection, review)
    return None if row is None else row["segment"]


def handoffs_behind(filters: Filters, *, by: str, segment: str | None) -> None:
    """The handoffs of one kind (over the SLA, pending, sent back, …) in the selected segment, or in all."""
    st.subheader("The handoffs behind the numbers")
    st.caption("Select a row of the table above to list one segment; otherwise every handoff in the period is listed.")
    if segment is not None:
        st.text(f"{BY_LABELS[by]}: {segment}")
    kind = st.segmented_control("Show the handoffs that are", list(KIND_LABELS), default="breached",
                                key="handoff_kind", format_func=KIND_LABELS.get, required=True) or "breached"
    leads = cache.handoff_leads(filters, kind=kind, by=by, segment=segment)
    lead_list(leads, key="handoff_leads", base=f"handoff_{kind}", as_of=filters.as_of, empty="No handoff in this list.")


def recycle_reasons(reasons: pl.DataFrame) -> None:
    """Why handoffs came back to nurture, as a chart."""
    st.subheader("Why handoffs came back")
    if reasons.is_empty():
        st.caption("No handoff in this period came back to nurture.")
    else:
        st.plotly_chart(figure(charts_handoff.recycle_reasons_figure, reasons), key="recycle_reasons_chart")


def selected_check(report: pl.DataFrame) -> str | None:
    """The hygiene checks, selectable; returns the selected check's name."""
    selection = table(
        report, key="hygiene_table", on_select="rerun", selection_mode="single-row",
        column_order=("description", "leads", "share", "month_before", "change", "what_to_do"), row_height=96,
        height=40 + 96 * report.height,
        # Widths in pixels that add up to the main area at 1440 px, with rows of four lines, so both texts are
        # read whole (they were cut at the right edge).
        column_config_overrides={"description": st.column_config.TextColumn("Check", width=300, pinned=True),
                                 "leads": st.column_config.NumberColumn("Leads", format="localized", width=64),
                                 "share": st.column_config.NumberColumn("Share", format="percent", width=72),
                                 "month_before": st.column_config.NumberColumn("Month before", format="localized",
                                                                               width=100),
                                 "change": st.column_config.NumberColumn("Change", format="%+d", width=68),
                                 "what_to_do": st.column_config.TextColumn("What to do", width=330)},
    )
    row = selected_row(selection, report)
    return None if row is None else row["check"]


def lead_list(leads: pl.DataFrame, *, key: str, base: str, as_of: date, empty: str) -> None:
    """Handoffs or flagged leads with their downloads (a long list: its first rows), or `empty` when there is
    none."""
    if leads.is_empty():
        st.caption(empty)
        return
    leads_table(leads, title=None, base=base, as_of=as_of, key=key)
