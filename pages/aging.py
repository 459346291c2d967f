"""Aging: how long leads have sat in their current stage, and who is past the stage's SLA."""

from __future__ import annotations

import streamlit as st

from funnel.charts import ladder as charts
from funnel.display.aging import sla_text
from funnel.display.segments import total_named
from pages.ui import cache, sidebar, store, widgets

sidebar.routed()
filters = sidebar.current_filters()
st.title("Aging")
sidebar.require_dates("Aging")
sidebar.model_note()
st.caption("Days in the current stage at the as-of date (the as-of date minus the day of the entry). Median and "
           "percentiles count leads still in a stage as censored, so a stage that holds leads for long is not made "
           "to look fast by leaving them out.")
by = widgets.segment_picker(key="aging", crossed=False)
widgets.notes(filters, by)

table = cache.stage_aging(filters, by)
buckets = cache.aging_buckets(filters, by)
sla = sla_text(store.active_settings())
if sla:
    st.text(sla)

st.plotly_chart(widgets.figure(charts.aging_histogram, buckets, by=by), key="aging_chart")
st.subheader("Per stage")
st.caption("Select a row to list its leads, longest in the stage first.")


@st.fragment
def stages_and_leads(filters, table, by: tuple[str, ...]) -> None:
    """The per-stage table and the leads of a selected row: a row click reruns only this part."""
    event = widgets.table(total_named(table, by), key="aging_table", on_select="rerun", selection_mode="single-row")
    row = widgets.selected_row(event, table)
    if row is not None:
        only_breaches = st.toggle("Only leads over the SLA", key="aging_only_sla")
        rows = cache.behind(filters, kind="aging", stage=row["stage"], over_sla=True if only_breaches else None,
                            segment=widgets.segment_of(row, by))
        widgets.leads_table(rows, title=f"Leads in {row['stage']}", base=f"aging_{row['stage']}",
                            as_of=filters.as_of, key="aging_leads")


stages_and_leads(filters, table, by)

st.subheader("Over SLA")
breaches = cache.behind(filters, kind="aging", over_sla=True)
if breaches.height == 0:
    st.caption("No lead is past its stage's SLA at this date.")
else:
    widgets.leads_table(breaches, title="Leads past their stage's SLA", base="over_sla", as_of=filters.as_of,
                        key="aging_breaches")
