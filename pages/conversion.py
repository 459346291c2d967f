"""Conversion: what happened to every stage entry — advanced, recycled or lost, expired, still open."""

from __future__ import annotations

import streamlit as st

from funnel.analyses import previous_period
from funnel.charts import ladder as charts
from funnel.config import SKIPPED_POLICIES
from funnel.display.conversion import (
    period_comparison,
    readable_steps,
    time_to_convert_ends,
    time_to_convert_starts,
)
from funnel.display.labels import stage_label
from funnel.display.segments import total_named
from pages.ui import cache, sidebar, store, widgets

sidebar.routed()
filters = sidebar.current_filters()
settings = store.active_settings()
st.title("Stage-to-stage conversion")
sidebar.require_dates("Conversion")
sidebar.model_note()
st.caption("The cohort is the leads that entered a stage in the period. Each entry ends in exactly one outcome at "
           "the as-of date: advanced within the window, recycled or lost, expired, or still open. Rate = advanced / "
           "(advanced + recycled/lost + expired); open entries are shown, never counted as failures.")

left, middle, right = st.columns(3)
window = int(left.number_input("Conversion window (days)", min_value=1, max_value=3650,
                               value=settings.conversion.window_days, key="conv_window", bind="query-params"))
skipped = middle.selectbox("Skipped stages", SKIPPED_POLICIES, index=SKIPPED_POLICIES.index(
    settings.conversion.skipped_stages), key="conv_skipped", bind="query-params",
    help="implicit: a lead that jumps a stage counts as having passed it; strict: it is left out of that step.")
with right:
    by = widgets.segment_picker(key="conv", crossed=False)
widgets.notes(filters, by)

steps = cache.stage_conversion(filters, by, window_days=window, skipped=skipped)
chart_left, chart_right = st.columns(2)
chart_left.plotly_chart(widgets.figure(charts.funnel_chart, cache.cumulative_conversion(filters, by, skipped=skipped), by=by),
                        key="conv_funnel")
chart_right.plotly_chart(widgets.figure(charts.outcomes_bar, steps, by=by), key="conv_outcomes")

st.subheader("Outcomes of every step")
st.caption("Select a row to see the entries behind it.")


@st.fragment
def steps_and_entries(filters, steps, by: tuple[str, ...], window: int, skipped: str) -> None:
    """The steps table and the entries behind a selected row: a row click reruns only this part."""
    event = widgets.table(total_named(readable_steps(steps, implicit=skipped == "implicit"), by), key="conv_table", on_select="rerun",
                          selection_mode="single-row")
    row = widgets.selected_row(event, steps)
    if row is not None:
        outcome = st.segmented_control("Outcome", ["all", "advanced", "lost", "expired", "open"], default="all",
                                       key="conv_outcome")
        rows = cache.behind(filters, kind="conversion", from_stage=row["from_stage"],
                            outcome=None if outcome in (None, "all") else outcome, window_days=window,
                            skipped=skipped, segment=widgets.segment_of(row, by))
        widgets.leads_table(rows, title=f"Entries into {row['from_stage']}", base=f"entries_{row['from_stage']}",
                            as_of=filters.as_of, key="conv_leads")


steps_and_entries(filters, steps, by, window, skipped)

st.subheader("Against the previous period")
earlier = previous_period(filters)
if earlier is None:
    st.caption("Set a cohort period in the sidebar (for example a whole month) to compare it with the same-length "
               "period before it, seen the same number of days after its end.")
else:
    before = cache.stage_conversion(earlier, window_days=window, skipped=skipped)
    now = cache.stage_conversion(filters, window_days=window, skipped=skipped)
    st.text(f"This period: {filters.period_start} to {filters.cohort_end}; previous: {earlier.period_start} to "
            f"{earlier.cohort_end} (as of {earlier.as_of}).")
    widgets.table(period_comparison(now, before), key="conv_compare")

st.subheader("Cohorts by entry month")
cohorts = cache.conversion_cohorts(filters, window_days=window, skipped=skipped)
st.plotly_chart(widgets.figure(charts.cohort_heatmap, cohorts), key="conv_cohorts")

st.subheader("How leads moved between stages")
flows = cache.stage_flows(filters)
if flows.height:
    st.plotly_chart(widgets.figure(charts.stage_flow_sankey, flows), key="conv_sankey")
else:
    st.caption("No stage moves in the period.")

st.subheader("Time to convert")
starts, default_start = time_to_convert_starts(settings, filters.ladder)
pick_left, pick_right = st.columns(2)
from_stage = pick_left.selectbox("From", starts, index=default_start, key="ttc_from", bind="query-params",
                                 format_func=stage_label)
ends = time_to_convert_ends(settings, filters.ladder, from_stage)
to_stage = pick_right.selectbox("To", ends, index=len(ends) - 1, key="ttc_to", format_func=stage_label)
curve = cache.time_to_convert_curve(filters, by, from_stage=from_stage, to_stage=to_stage, skipped=skipped)
summary = cache.time_to_convert(filters, by, from_stage=from_stage, to_stage=to_stage, skipped=skipped)
st.caption("Kaplan–Meier: leads that have not converted yet count as censored at the as-of date, not as failures, "
           "so slow segments are not flattered by leaving their open leads out.")
if curve.height:
    st.plotly_chart(widgets.figure(charts.time_to_convert_chart, curve, from_stage=from_stage, to_stage=to_stage), key="ttc_chart")
widgets.table(summary, key="ttc_table")
