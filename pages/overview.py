"""Overview: the headline numbers as of the chosen day, and what moved since a month earlier."""

from __future__ import annotations

import streamlit as st

from funnel.charts import ladder as charts
from funnel.display.distribution import named_stages
from funnel.display.overview import (
    COMPARISON_DAYS,
    comparison_filters,
    has_no_leads,
    headline_kpis,
    stage_changes,
    win_rate_note,
)
from pages.ui import cache, sidebar, widgets

sidebar.routed()
filters = sidebar.current_filters()
st.title("Overview")
sidebar.model_note()
sidebar.sample_notice()
if sidebar.undated():
    st.info(sidebar.UNDATED_NOTE, icon=":material/event_busy:")
    st.subheader("Now in each stage")
    widgets.table(named_stages(cache.stage_distribution(filters)), key="overview_now")
    widgets.notes(filters)
    st.page_link("pages/segments.py", label="Which segments drive these numbers", icon=":material/category:")
    st.stop()
earlier = comparison_filters(filters)

now = cache.segment_performance(filters)
kpis = headline_kpis(now, cache.segment_performance(earlier))
st.caption(f"As of the end of {filters.as_of:%d %b %Y}, compared with {COMPARISON_DAYS} days earlier.")
columns = st.columns(len(kpis.rows()) if kpis.height <= 6 else 6)
for column, row in zip(columns * 3, kpis.iter_rows(named=True)):
    column.metric(row["kpi"], row["value"], row["change"], delta_color=row["delta_color"],
                  help=row["help"])
if note := win_rate_note(now):
    st.warning(note, icon=":material/warning:")

left, right = st.columns([1, 1])
with left:
    st.plotly_chart(widgets.figure(charts.funnel_chart, cache.cumulative_conversion(filters)), key="overview_funnel")
    st.caption("Reached: every lead that ever got to the stage by the as-of date, so the counts only shrink down "
               "the ladder. Now in (right): where each lead stands today, once; a lead that moved on is no longer "
               "counted where it started.")
with right:
    st.subheader(f"Now in each stage, and what moved since {COMPARISON_DAYS} days earlier")
    changes = stage_changes(cache.stage_distribution(filters), cache.stage_distribution(earlier))
    widgets.table(changes, key="overview_changes", column_config_overrides={
        "leads": st.column_config.NumberColumn("Now in", format="localized"),
        "leads_before": st.column_config.NumberColumn(f"Now in, {COMPARISON_DAYS} days earlier", format="localized")})
widgets.notes(filters)
if has_no_leads(now):
    st.info("No lead exists on or before this date: pick a later as-of date.")
st.page_link("pages/segments.py", label="Which segments drive these numbers", icon=":material/category:")

st.subheader("Alerts from the latest import")
st.caption("Leads that newly meet an alert rule since the data before the latest import (an ICP lead with a demo "
           "request or pricing visit, an SDR task over its SLA, a stalled opportunity), with the owner the rules give.")
widgets.leads_table(cache.import_alerts(filters.as_of), title="Alerts", base="alerts", as_of=filters.as_of,
                    key="overview_alerts")
st.page_link("pages/routing.py", label="Routing rules, their check and what-if", icon=":material/alt_route:")
