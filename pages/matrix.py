"""Fit × intent: the four cells with counts, later conversion and action, the work queues, and how well
the scores predict conversion on this data."""

from __future__ import annotations

import streamlit as st

from funnel.charts import matrix as charts_matrix
from funnel.model.matrix import QUEUES, REACTIVATION_QUEUE
from pages.ui import cache, sidebar, store, widgets

UNDATED_CELLS = ("No dates in this database: intent comes from dated activities and there are none, so every "
                 "lead's intent is 0 (low intent), and later conversion, which compares each cell one conversion "
                 "window ago with today, cannot be measured (—).")
UNDATED_VALIDATION = ("Checking the scores takes dates: each lead's score one conversion window before the as-of "
                      "date, against whether it reached opportunity after. This database has no dates. "
                      + sidebar.NEEDS_DATES)

sidebar.routed()
filters = sidebar.current_filters()
settings = store.active_settings()
sidebar.require_tables("leads", what="The fit × intent matrix")
st.title("Fit × intent")
sidebar.model_note()
st.caption("Fit is how well a lead matches an ideal customer profile; intent is its recent buying behaviour, decayed "
           "with a half-life. Keep them apart: activity is not opportunity.")

left, right = st.columns(2)
fit_at = float(left.slider("High fit at", 0, 100, int(settings.fit.high_threshold), key="mx_fit",
                           bind="query-params"))
intent_at = float(right.slider("High intent at", 0, 100, int(settings.intent.high_threshold), key="mx_intent",
                               bind="query-params"))
cells = cache.matrix_cells(filters.as_of, fit_threshold=fit_at, intent_threshold=intent_at)
if fit_note := cache.fit_data_note(filters.as_of):
    st.warning("Fit lacks firmographics.", icon=":material/warning:")
    st.text(fit_note)
st.plotly_chart(widgets.figure(charts_matrix.matrix_chart, cells), key="mx_chart")
if sidebar.undated():
    st.caption(UNDATED_CELLS)
else:
    st.caption(f"Later conversion: of the leads in each cell {settings.conversion.window_days} days before the as-of "
               "date that had not reached opportunity, the share that did by the as-of date (95% interval).")
widgets.table(cells.drop("quadrant"), key="mx_cells")

st.subheader("Work queues")
queue = st.segmented_control("Queue", [*QUEUES, REACTIVATION_QUEUE], default="SDR queue", key="mx_queue",
                             bind="query-params", required=True)
rows = cache.work_queue(filters.as_of, queue=queue, fit_threshold=fit_at, intent_threshold=intent_at)
widgets.leads_table(rows, title=queue, base=queue.lower().replace(" ", "_"), as_of=filters.as_of, key="mx_queue_rows")

st.subheader("Do the scores predict conversion here?")
if sidebar.undated():
    st.info(UNDATED_VALIDATION, icon=":material/event_busy:")
    st.stop()
st.caption("Scores taken one conversion window before the as-of date, against reaching opportunity within the window "
           "after; criteria and activity types ranked by lift (rate with ÷ rate without) with intervals.")
validation = cache.score_validation(filters.as_of)
if validation["summary"].height:
    widgets.table(validation["summary"], key="mx_summary")
deciles_left, deciles_right = st.columns(2)
deciles_left.plotly_chart(widgets.figure(charts_matrix.decile_chart, validation["fit_deciles"], score="Fit"), key="mx_fit_dec")
deciles_right.plotly_chart(widgets.figure(charts_matrix.decile_chart, validation["intent_deciles"], score="Intent"), key="mx_int_dec")
st.text("Criteria of the ideal customer profiles")
widgets.table(validation["criteria"], key="mx_criteria")
st.text("Activity types")
widgets.table(validation["activity_types"], key="mx_types")
