"""Lead: one lead's stage and the evidence behind it, its fit and intent point by point, and what moves it on."""

from __future__ import annotations

import polars as pl
import streamlit as st

from funnel.analyses.lead_search import lead_card, matching_leads
from funnel.errors import FunnelError
from funnel.model.scoring import fit_explanation, intent_explanation, leads_report
from funnel.model.stages import next_stage_gap, stage_explanation
from pages import ui

ui.routed()
filters = ui.current_filters()
ui.require_tables("leads", what="The lead view")
st.title("Lead")
st.caption("Find a lead by id, e-mail or name. Its funnel stage is derived from evidence, and every stage entry below "
           "names the row that caused it; fit and intent are broken down into the points that make them up.")

query = st.text_input("Lead id, e-mail or name", key="lead_q", bind="query-params")
matches = ui.computed(matching_leads, query=query or "")
if not query:
    st.stop()
if matches.height == 0:
    st.info("No lead matches that search. Try part of the e-mail address or the id.")
    st.stop()
ids = matches.get_column("lead_id").to_list()
st.dataframe(matches, hide_index=True, key="lead_matches", height=min(240, 40 + 35 * matches.height))
lead_id = st.selectbox("Lead", ids, key="lead_id")

report = ui.computed(leads_report, as_of=filters.as_of)
row = report.filter(pl.col("lead_id") == lead_id)
if row.height == 0:
    st.info("This lead was created after the as-of date; move the date later to see it.")
    st.stop()
facts = row.row(0, named=True)
summary = lead_card(facts)
st.dataframe(summary, hide_index=True, key="lead_summary")

st.subheader("What would move it on")
gaps = ui.computed(next_stage_gap, lead_id=lead_id, as_of=filters.as_of)
if gaps:
    st.dataframe(pl.DataFrame(gaps).select("stage", "text", "have", "need", "by"), hide_index=True, key="lead_gaps")
else:
    st.caption("Nothing: the lead is a customer.")

st.subheader("Timeline")
timeline = ui.computed(stage_explanation, lead_id=lead_id, as_of=filters.as_of)
st.caption("Rows with a value under 'caused' are the evidence that put the lead in that stage.")
st.dataframe(timeline, hide_index=True, key="lead_timeline", height=360)

left, right = st.columns(2)
with left:
    st.subheader("Fit")
    try:
        fit = ui.computed(fit_explanation, lead_id=lead_id, as_of=filters.as_of)
    except FunnelError as exc:
        ui.show_error(exc)
    else:
        st.dataframe(fit, hide_index=True, key="lead_fit")
        st.text(f"Fit score: {fit.get_column('counted').sum():g} (the best profile's matched points, at most 100)")
with right:
    st.subheader("Intent")
    intent = ui.computed(intent_explanation, lead_id=lead_id, as_of=filters.as_of)
    st.dataframe(intent, hide_index=True, key="lead_intent")
    st.text(f"Intent score: {intent.get_column('counted').sum():.1f} (weight × decay, after type caps and the cap)")
