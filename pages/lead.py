"""Lead: one lead's stage and the evidence behind it, its fit and intent point by point, and what moves it on."""

from __future__ import annotations

import streamlit as st

from funnel.errors import FunnelError
from pages.ui import cache, sidebar, widgets

sidebar.routed()
filters = sidebar.current_filters()
sidebar.require_tables("leads", what="The lead view")
st.title("Lead")
sidebar.model_note()
st.caption("Find a lead by id, e-mail or name. Its funnel stage is derived from evidence, and every stage entry below "
           "names the row that caused it; fit and intent are broken down into the points that make them up.")

query = st.text_input("Lead id, e-mail or name", key="lead_q", bind="query-params")
matches = cache.matching_leads(query or "")
if not query:
    st.stop()
if matches.height == 0:
    st.info("No lead matches that search. Try part of the e-mail address or the id.")
    st.stop()
widgets.table(matches, key="lead_matches", height=min(240, 40 + 35 * matches.height))
lead_id = st.selectbox("Lead", matches.get_column("lead_id").to_list(), key="lead_id")

view = cache.lead_view(lead_id, filters.as_of)
if view is None:
    st.info("This lead was created after the as-of date; move the date later to see it.")
    st.stop()
widgets.table(view.card, key="lead_summary")

st.subheader("What would move it on")
gaps = cache.next_stage_gap(lead_id, filters.as_of)
if gaps is None:
    st.caption("Nothing: the lead is a customer.")
else:
    widgets.table(gaps, key="lead_gaps")

st.subheader("Timeline")
st.caption("Rows with a value under 'caused' are the evidence that put the lead in that stage.")
widgets.table(cache.stage_explanation(lead_id, filters.as_of), key="lead_timeline", height=360)

left, right = st.columns(2)
with left:
    st.subheader("Fit")
    try:
        fit = cache.fit_explanation(lead_id, filters.as_of)
    except FunnelError as exc:
        widgets.show_error(exc)
    else:
        widgets.table(fit, key="lead_fit")
        st.text(view.fit_text)
        if fit_note := cache.fit_data_note(filters.as_of):
            st.text(fit_note)
with right:
    st.subheader("Intent")
    widgets.table(cache.intent_explanation(lead_id, filters.as_of), key="lead_intent")
    st.text(view.intent_text)
