"""Distribution: where every lead stands at the as-of date, by any segment, and the monthly trend."""

from __future__ import annotations

import streamlit as st

from funnel.analyses import distribution_trend_of, stage_distribution_of
from funnel.analyses.drilldown import NO_STAGE
from funnel.charts import ladder as charts
from pages import ui

ui.routed()
filters = ui.current_filters()
st.title("Stage distribution")
st.caption("Each lead created on or before the as-of date, counted once in the stage of its latest entry at or "
           "before that date. Select a row to see the leads behind it.")
by = ui.segment_picker(filters, key="dist", crossed=True)

table = ui.derived(stage_distribution_of, filters, by)
trend = ui.derived(distribution_trend_of, filters, by)
ui.notes(ui.analysis(filters))

left, right = st.columns([2, 3])
with left:
    shown = table.with_columns(table.get_column("stage").cast(str).fill_null(NO_STAGE))
    event = st.dataframe(shown, hide_index=True, key="dist_table", on_select="rerun",
                         selection_mode="single-row", height=420,
                         column_config={"share": st.column_config.NumberColumn(format="percent")})
with right:
    share = st.toggle("Show shares instead of counts", key="dist_share", bind="query-params")
    st.plotly_chart(charts.distribution_area(trend, by=by, share=share), key="dist_trend")

row = ui.selected_row(event, shown)
if row is not None:
    rows = ui.behind(filters, kind="distribution", stage=row["stage"], segment=ui.segment_of(row, by))
    ui.leads_table(rows, title=f"Leads in {row['stage']}", base=f"leads_{row['stage']}", as_of=filters.as_of,
                   key="dist_leads")
