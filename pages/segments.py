"""Segments: leads, reach, win rate and speed by any segment, with honest statistics."""

from __future__ import annotations

import streamlit as st

from funnel.analyses.deals import only_wins_note, segment_only_wins_note, undated_deals_text
from funnel.analyses.segments import weak_segment_warning
from funnel.charts import ladder as charts
from funnel.display.labels import column_label
from funnel.display.segments import (
    chartable_rates,
    important_first,
    readable_deals,
    readable_segments,
    segment_label,
)
from pages.ui import cache, sidebar, store, widgets

sidebar.routed()
filters = sidebar.current_filters()
settings = store.active_settings()
st.title("Segment performance")
sidebar.model_note()
st.caption("Every rate carries a 95% Wilson interval. A segment is flagged as significant only when it differs from "
           "the rest of the leads beyond chance after Benjamini–Hochberg correction over every rate in the table; "
           f"segments with fewer than {settings.segments.min_sample} leads are marked as small samples.")
by = widgets.segment_picker(key="seg", crossed=True, default="source")
if not by:
    st.info("Pick a segment (source, industry, size band, ICP, quadrant, owner, a tag or any attribute) to compare "
            "its segments with each other; the row with empty segment columns is everyone.")
table = cache.segment_performance(filters, by)
widgets.notes(filters, by)
if note := segment_only_wins_note(table):
    st.warning(note, icon=":material/warning:")

if by:
    warn, why = weak_segment_warning(table, by=by, min_sample=settings.segments.min_sample)
    if warn:
        st.warning("Most leads sit in the weakest segments.", icon=":material/warning:")
        st.text(why)
    rates, default_rate = chartable_rates(table)
    rate = st.selectbox("Rate to chart", rates, index=default_rate, key="seg_rate", bind="query-params",
                        format_func=column_label)
    st.plotly_chart(widgets.figure(charts.segment_rates_chart, table, by=by, rate=rate), key="seg_chart")



@st.fragment
def segments_and_leads(filters, table, by: tuple[str, ...]) -> None:
    """The segment table and the leads of a selected row: a row click (or the statistics switch) reruns only
    this part."""
    full = st.toggle("Show every statistic (p-values, q-values, counts)", key="seg_full")
    shown = table if full else readable_segments(table, by=by)
    st.caption("Rates are shown with their 95% interval; 'higher' or 'lower' means beyond chance against the rest of "
               "the leads. Select a row to list its leads.")
    event = widgets.table(shown, key="seg_table", on_select="rerun", selection_mode="single-row",
                          column_order=None if full else important_first(shown, by=by))
    row = widgets.selected_row(event, table)
    if row is not None:
        reached = st.segmented_control("Only leads that reached", ["any", *cache.reported_stages(filters)],
                                       default="any", key="seg_reached")
        rows = cache.behind(filters, kind="segment", reached=None if reached in (None, "any") else reached,
                            segment=widgets.segment_of(row, by))
        widgets.leads_table(rows, title=f"Leads in {segment_label(row, by)}", base="segment_leads",
                            as_of=filters.as_of, key="seg_leads")


segments_and_leads(filters, table, by)

st.subheader("Deals by their account")
st.caption("Every deal, also those that belong to an account rather than a lead: win rate (won ÷ closed, 95% "
           "interval), cycle length from created to closed (Kaplan–Meier: open deals censored at the as-of date), "
           "and how long open deals have been open.")
if store.table_rows("deals") == 0:
    st.caption("No deals imported yet: import a deals or opportunities export to see win rates and cycle lengths.")
else:
    deal_by = st.selectbox("Deals by", cache.deal_dimensions(), key="seg_deal_by", bind="query-params",
                           format_func=column_label)
    deals = cache.deal_performance(filters.as_of, by=deal_by)
    if note := only_wins_note(deals):
        st.warning(note, icon=":material/warning:")
    if note := undated_deals_text(cache.undated_deals()):
        st.caption(note)
    widgets.table(readable_deals(deals, by=deal_by), key="seg_deals")
