"""Overview: the headline numbers as of the chosen day, and what moved since a month earlier."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import streamlit as st

from funnel.analyses import cumulative_conversion_of, segment_performance_of, stage_distribution_of
from funnel.charts import ladder as charts
from funnel.display.overview import headline_kpis, stage_changes
from pages import ui

ui.routed()
filters = ui.current_filters()
st.title("Overview")
ui.sample_notice()
month_ago = replace(filters, as_of=filters.as_of - timedelta(days=30))

now = ui.derived(segment_performance_of, filters)
before = ui.derived(segment_performance_of, month_ago)
kpis = headline_kpis(now, before)
st.caption(f"As of the end of {filters.as_of:%d %b %Y}, compared with 30 days earlier.")
columns = st.columns(len(kpis.rows()) if kpis.height <= 6 else 6)
for column, row in zip(columns * 3, kpis.iter_rows(named=True)):
    column.metric(row["kpi"], row["value"], row["change"], delta_color=row["delta_color"],
                  help=row["help"])

left, right = st.columns([1, 1])
with left:
    cumulative = ui.derived(cumulative_conversion_of, filters)
    st.plotly_chart(charts.funnel_chart(cumulative), key="overview_funnel")
with right:
    st.subheader("What moved since 30 days earlier")
    changes = stage_changes(ui.derived(stage_distribution_of, filters),
                            ui.derived(stage_distribution_of, month_ago))
    st.dataframe(changes, hide_index=True, key="overview_changes",
                 column_config={"share": st.column_config.NumberColumn(format="percent"),
                                "change": st.column_config.NumberColumn(format="%+d")})
ui.notes(ui.analysis(filters))
if now.height and int(now.get_column("leads")[0]) == 0:
    st.info("No lead exists on or before this date: pick a later as-of date.")
st.page_link("pages/segments.py", label="Which segments drive these numbers", icon=":material/category:")
