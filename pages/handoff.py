"""Handoff & hygiene: were MQLs accepted and touched in time, what came back and why, which records to clean."""

from __future__ import annotations

import polars as pl
import streamlit as st

from funnel.analyses import handoff, hygiene
from funnel.charts import handoff as charts_handoff
from funnel.errors import FunnelError
from pages import ui

ui.routed()
st.title("Handoff & hygiene")
st.caption("The handoff review for marketing and sales together: were MQLs accepted, how fast were they "
           "touched, what was sent back and why. Below it, the records that make every number less true.")

filters = ui.current_filters()
settings = ui.active_settings()
ui.require_tables("leads", what="The handoff and hygiene review")

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
DATETIME = "YYYY-MM-DD HH:mm"
LEAD_LIST_CONFIG = {
    "mql_at": st.column_config.DatetimeColumn("MQL at", format=DATETIME),
    "decided_at": st.column_config.DatetimeColumn("Decided at", format=DATETIME),
    "first_touch_at": st.column_config.DatetimeColumn("First sales touch", format=DATETIME),
    "returned_at": st.column_config.DatetimeColumn("Back to nurture at", format=DATETIME),
    "hours_to_touch": st.column_config.NumberColumn("Hours to touch", format="%.1f"),
    "days_at_mql": st.column_config.NumberColumn("Days at MQL", format="%d"),
    "created_at": st.column_config.DatetimeColumn("Created", format=DATETIME),
    "next_action_at": st.column_config.DatetimeColumn("Next action", format=DATETIME),
}


def show_problem(error: FunnelError) -> None:
    """A review that cannot be computed with these settings or data, said in plain text."""
    st.error("This part of the page cannot be computed with the current settings and data.",
             icon=":material/error:")
    st.text(error.message())


def handoff_section() -> None:
    st.header("Handoff: marketing to sales")
    if ui.table_rows("stage_events") == 0:
        st.info("The handoff review needs the lifecycle stage history (stage_events): when each lead became an "
                "MQL, an SQL, or went back to nurture. Import a stage-change log, or a CRM export with "
                "\"Became a … Date\" columns, on the Data page.", icon=":material/upload_file:")
        return
    st.caption("Read from the lifecycle (CRM) ladder whatever ladder the sidebar shows. Each entry into MQL is a "
               "handoff, counted as the Conversion page's MQL step counts it; it is accepted when its next move is to "
               "SQL or later within the conversion window, sent back when that move is down (or to a side state), "
               "expired when the window passed without either, and pending while the window is still open. The "
               "rate leaves pending handoffs out, so it is the Conversion page's MQL → SQL rate.")
    by = st.segmented_control("Break down by", list(BY_LABELS), default="source", key="handoff_by",
                              format_func=BY_LABELS.get, required=True) or "source"
    try:
        review = ui.computed(handoff.handoff_review, filters=filters, by=by)
        reasons = ui.computed(handoff.recycle_reasons, filters=filters)
    except FunnelError as exc:
        show_problem(exc)
        return
    total = review.row(0, named=True)
    if total["mqls"] == 0:
        st.info("No lead entered MQL in this period. Widen the cohort period in the sidebar, or import a stage "
                "history that records MQL entries.", icon=":material/info:")
        return

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
    low, high, p90 = total["acceptance_rate_lo"], total["acceptance_rate_hi"], total["speed_to_lead_p90_hours"]
    sla = settings.aging.sla_days.get("mql")
    st.text("  ·  ".join([
        "acceptance 95% interval: " + ("–" if low is None else f"{low:.0%}–{high:.0%}")
        + (" (small sample)" if total["small_sample"] else ""),
        "p90 speed-to-lead: " + ("not reached" if p90 is None else f"{p90:.1f} hours"),
        f"conversion window: {settings.conversion.window_days} days",
        "MQL SLA: " + ("none set" if sla is None else f"{sla} days"),
    ]))
    if ui.table_rows("activities") == 0:
        st.caption("Speed-to-lead needs activities with sales touches (activity type sales_touch); none are "
                   "imported, so every handoff counts as untouched.")

    st.subheader("By segment")
    shown = review.with_columns(pl.col("segment").fill_null("(all MQLs)"))
    selection = st.dataframe(
        shown, hide_index=True, key=f"handoff_table_{by}", on_select="rerun", selection_mode="single-row",
        column_config={
            "segment": st.column_config.TextColumn(BY_LABELS[by], pinned=True),
            "mqls": st.column_config.NumberColumn("MQLs", format="%d"),
            "leads": st.column_config.NumberColumn("Leads", format="%d"),
            "pending": st.column_config.NumberColumn("Pending", format="%d"),
            "recycled": st.column_config.NumberColumn("Sent back", format="%d"),
            "acceptance_rate": st.column_config.NumberColumn("Acceptance", format="percent"),
            "acceptance_rate_lo": st.column_config.NumberColumn("95% low", format="percent"),
            "acceptance_rate_hi": st.column_config.NumberColumn("95% high", format="percent"),
            "small_sample": st.column_config.CheckboxColumn("Small sample"),
            "speed_to_lead_median_hours": st.column_config.NumberColumn("Median hours to touch", format="%.1f"),
            "speed_to_lead_p90_hours": st.column_config.NumberColumn("p90 hours to touch", format="%.1f"),
            "sla_breaches": st.column_config.NumberColumn("SLA breaches", format="%d"),
            "recycled_after_acceptance": st.column_config.NumberColumn("Recycled after acceptance", format="%d"),
        },
    )
    rows = [r for r in (selection.selection.rows if selection is not None else []) if r < review.height]
    segment = review.get_column("segment")[rows[0]] if rows else None

    st.subheader("The handoffs behind the numbers")
    st.caption("Select a row of the table above to list one segment; otherwise every handoff in the period is listed.")
    if segment is not None:
        st.text(f"{BY_LABELS[by]}: {segment}")
    kind = st.segmented_control("Show the handoffs that are", list(KIND_LABELS), default="breached",
                                key="handoff_kind", format_func=KIND_LABELS.get, required=True) or "breached"
    leads = ui.computed(handoff.handoff_leads, filters=filters, kind=kind, by=by if segment is not None else None,
                        segment=segment)
    if leads.is_empty():
        st.caption("No handoff in this list.")
    else:
        st.dataframe(leads, hide_index=True, key="handoff_leads_table", column_config=LEAD_LIST_CONFIG)
        ui.download_buttons(leads, base=f"handoff_{kind}", as_of=filters.as_of, key="handoff_leads_download")

    st.subheader("Why handoffs came back")
    if reasons.is_empty():
        st.caption("No handoff in this period came back to nurture.")
    else:
        st.plotly_chart(charts_handoff.recycle_reasons_figure(reasons), key="recycle_reasons_chart")


def hygiene_section() -> None:
    st.header("Hygiene")
    st.caption("Each check lists the leads it flags; a lead can fail several. Owner, status, e-mail and next "
               "action are read as exported today; stages as of the sidebar's date. Vague statuses are a fixed "
               "list (Other, Working, TBD, see notes, …), not a setting.")
    try:
        report = ui.computed(hygiene.hygiene_report, as_of=filters.as_of)
    except FunnelError as exc:
        show_problem(exc)
        return
    selection = st.dataframe(
        report, hide_index=True, key="hygiene_table", on_select="rerun", selection_mode="single-row",
        column_order=("description", "leads", "share", "what_to_do"),
        column_config={
            "description": st.column_config.TextColumn("Check", width="large"),
            "leads": st.column_config.NumberColumn("Leads", format="%d"),
            "share": st.column_config.NumberColumn("Share of leads", format="percent"),
            "what_to_do": st.column_config.TextColumn("What to do", width="large"),
        },
    )
    rows = [r for r in (selection.selection.rows if selection is not None else []) if r < report.height]
    if not rows:
        st.caption("Select a check to list its leads.")
        return
    check = report.get_column("check")[rows[0]]
    flagged = ui.computed(hygiene.hygiene_leads, as_of=filters.as_of, check=check)
    if flagged.is_empty():
        st.caption("No lead fails this check.")
        return
    st.dataframe(flagged, hide_index=True, key="hygiene_leads_table", column_config=LEAD_LIST_CONFIG)
    ui.download_buttons(flagged, base=f"hygiene_{check}", as_of=filters.as_of, key="hygiene_leads_download")


handoff_section()
hygiene_section()
