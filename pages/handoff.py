"""Handoff & hygiene: were MQLs accepted and touched in time, what came back and why, which records to clean."""

from __future__ import annotations

import streamlit as st

from funnel.display.handoff import BY_LABELS, handoff_details, handoff_total
from funnel.errors import FunnelError
from pages.ui import cache, handoff, sidebar, store, widgets

sidebar.routed()
st.title("Handoff & hygiene")
st.caption("The handoff review for marketing and sales together: were MQLs accepted, how fast were they "
           "touched, what was sent back and why. Below it, the records that make every number less true.")

st.page_link("pages/handoff_review.py", label="Week 4: review a sample of recent MQLs, SQLs and opportunities "
             "together (right stage, owner and next action?)", icon=":material/rate_review:")

filters = sidebar.current_filters()
sidebar.model_note()
sidebar.require_tables("leads", what="The handoff and hygiene review")


def handoff_section() -> None:
    st.header("Handoff: marketing to sales")
    if store.table_rows("stage_events") == 0:
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
        review = cache.handoff_review(filters, by=by)
        reasons = cache.recycle_reasons(filters, by=by)
    except FunnelError as exc:
        widgets.show_problem(exc)
        return
    total = handoff_total(review)
    if total["mqls"] == 0:
        st.info("No lead entered MQL in this period. Widen the cohort period in the sidebar, or import a stage "
                "history that records MQL entries.", icon=":material/info:")
        return
    handoff.headline(total)
    st.text(handoff_details(total, store.active_settings()))
    if store.table_rows("activities") == 0:
        st.caption("Speed-to-lead needs activities with sales touches (activity type sales_touch); none are "
                   "imported, so every handoff counts as untouched.")

    st.subheader("By segment")
    segments_and_handoffs(filters, review, by)
    handoff.recycle_reasons(reasons)


@st.fragment
def segments_and_handoffs(filters, review, by: str) -> None:
    """The segment table and the handoffs behind it: a row click or a kind chip reruns only this part."""
    segment = handoff.segment_table(review, by)
    handoff.handoffs_behind(filters, by=by, segment=segment)


def hygiene_section() -> None:
    st.header("Hygiene")
    st.caption("Each check lists the leads it flags; a lead can fail several. Owner, status, e-mail and next "
               "action are read as exported today; stages as of the sidebar's date. Vague statuses are a fixed "
               "list (Other, Working, TBD, see notes, …), not a setting. The exact checks come first, then the "
               "CRM audit's fuzzy findings (Splink at a match probability of 0.9; change it, and see the merge "
               "suggestions, on the Data quality page). A month before = flagged at the previous month end.")
    try:
        report = cache.audited_hygiene(filters.as_of)
    except FunnelError as exc:
        widgets.show_problem(exc)
        return
    checks_and_leads(filters, report)


@st.fragment
def checks_and_leads(filters, report) -> None:
    """The hygiene checks and the leads of a selected one: a row click reruns only this part."""
    check = handoff.selected_check(report)
    if check is None:
        st.caption("Select a check to list its leads.")
        return
    handoff.lead_list(cache.hygiene_check_leads(filters.as_of, check=check), key="hygiene_leads",
                      base=f"hygiene_{check}", as_of=filters.as_of, empty="No lead fails this check.")


handoff_section()
hygiene_section()
