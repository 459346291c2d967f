"""Distribution: where every lead stands at the as-of date, by any segment, and the monthly trend."""

from __future__ import annotations

import streamlit as st

from funnel.charts import ladder as charts
from funnel.display.distribution import named_stages
from funnel.display.segments import total_named
from pages.ui import cache, sidebar, widgets

sidebar.routed()
filters = sidebar.current_filters()
st.title("Stage distribution")
sidebar.model_note()
st.caption("Each lead created on or before the as-of date, counted once in the stage of its latest entry at or "
           "before that date. Select a row to see the leads behind it.")
by = widgets.segment_picker(key="dist", crossed=True)

table = named_stages(cache.stage_distribution(filters, by))
widgets.notes(filters, by)

left, right = st.columns([2, 3])
below = st.container()


@st.fragment
def stages_and_leads(filters, table, by: tuple[str, ...]) -> None:
    """The stage table (left) and the leads of a selected row (below both columns): a row click reruns only
    this part, not the trend chart."""
    with left:
        event = widgets.table(total_named(table, by), key="dist_table", on_select="rerun", selection_mode="single-row",
                              height="content" if table.height <= 11 else 420)  # no empty rows under a short ladder
    row = widgets.selected_row(event, table)
    with below:
        if row is None:
            st.caption("Select a row of the table to list its leads here.")
            return
        rows = cache.behind(filters, kind="distribution", stage=row["stage"], segment=widgets.segment_of(row, by))
        widgets.leads_table(rows, title=f"Leads in {row['stage']}", base=f"leads_{row['stage']}",
                            as_of=filters.as_of, key="dist_leads")


stages_and_leads(filters, table, by)
with right:
    if sidebar.undated():
        st.info("The monthly trend needs dates, and this database has none: the table counts each lead at its "
                f"current stage. {sidebar.NEEDS_DATES}", icon=":material/event_busy:")
    else:
        share = st.toggle("Show shares instead of counts", key="dist_share", bind="query-params")
        st.plotly_chart(widgets.figure(charts.distribution_area, cache.distribution_trend(filters, by), by=by,
                                       share=share), key="dist_trend")
