"""Monthly review: this month against last month (and a year earlier), what moved and why, a report to share."""

from __future__ import annotations

import streamlit as st

from funnel.charts.monthly import review_figures
from funnel.display.labels import column_label
from funnel.display.segments import total_named
from funnel.errors import FunnelError
from pages.ui import cache, review, sidebar, widgets

sidebar.routed()
filters = sidebar.current_filters()
st.title("Monthly review")
sidebar.require_dates("The monthly review")
sidebar.model_note()
sidebar.sample_notice()
months, default = review.month_options(filters.as_of)
if not months:
    st.info("No dated data yet: import leads or stage events with dates.")
    st.stop()
labels = [m.strftime("%Y-%m") for m in months]
left, right = st.columns(2)
chosen = left.selectbox("Month", labels, index=labels.index(f"{default:%Y-%m}") if f"{default:%Y-%m}" in labels else 0,
                        key="review_month", bind="query-params",
                        help="The calendar month reviewed; default: the last complete month at the as-of date.")
dimensions = cache.segment_dimensions()
by = right.selectbox("Segments by", ["(none)", *dimensions],
                     index=(dimensions.index("source") + 1) if "source" in dimensions else 0, key="review_by",
                     bind="query-params", help="The dimension whose mix and rates explain the changes.",
                     format_func=column_label)
by = None if by in (None, "(none)") else by
month = months[labels.index(chosen)] if chosen in labels else default
try:
    result = review.review(filters, month, by)
except FunnelError as error:
    widgets.show_problem(error)
    st.stop()
year_ago = result.months.get("year_ago")
st.caption(f"{month:%B %Y} against {result.months['previous']:%B %Y}"
           + (f" and {year_ago:%B %Y}" if year_ago else " (the data does not reach a year earlier)")
           + f". Conversion outcomes as of the end of {filters.as_of:%d %b %Y}: the newest month's entries may be "
             "mostly open, shown as such, never as a drop.")
for note in result.notes:
    st.caption(note)

st.subheader("Highlights")
st.caption("Only changes beyond chance (exact test where a count is small, Benjamini–Hochberg across every change "
           "tested). Pick one to list the leads behind it.")
sentences = result.highlights.get_column("sentence").to_list()
for sentence in sentences:
    st.text("• " + sentence)
if not sentences:
    st.text("No change since last month is beyond chance.")
pick = st.selectbox("Leads behind", sentences, key="review_behind", index=None, placeholder="Choose a highlight",
                    disabled=not sentences)
if pick is not None:
    row = result.highlights.row(sentences.index(pick), named=True)
    if row["kind"] in ("step", "segment"):
        segment = {by: row["segment"]} if row["kind"] == "segment" and by else None
        rows = cache.behind(filters, kind="conversion", from_stage=row["from_stage"], cohort_month=month,
                            segment=segment)
        widgets.leads_table(rows, title=f"Entries into {row['from_stage']} in {month:%B %Y}", base="review_leads",
                            as_of=filters.as_of, key="review_leads")
    else:
        st.text("The leads behind this number are on the Handoff & hygiene and Segments pages.")

figures = widgets.figure(review_figures, result)
st.subheader("Headline numbers")
review.table(result.headline, key="review_headline")
st.plotly_chart(figures["distribution"], key="review_distribution_chart")
st.subheader("Step conversion of each month's entries")
st.plotly_chart(figures["conversion"], key="review_conversion_chart")
review.table(result.conversion, key="review_conversion")
st.subheader("Aging: leads over SLA at each month end")
review.table(result.aging.filter(result.aging["sla_days"].is_not_null()), key="review_aging")
if result.handoff.height:
    st.subheader("Handoff acceptance and speed-to-lead")
    review.table(result.handoff, key="review_handoff")
if result.deals.height:
    st.subheader("Deals closed in each month")
    review.table(result.deals, key="review_deals")
if by and result.segment_health.height:
    st.subheader(f"Segment health by {column_label(by)}")
    st.caption("The change of each overall rate split into mix (where this month's entries came from) and rate "
               "(how each segment converted); the two parts add up to the change.")
    st.plotly_chart(figures["segment_health_mix"], key="review_mix_chart")
    st.plotly_chart(figures["segment_health_rates"], key="review_rates_chart")
    review.table(total_named(result.segment_health, [by]), key="review_health")

invest = None
if by:
    with st.expander(f"Where to invest: segments of {by} ranked, outliers without an ICP, ICP lift by quarter"):
        if st.toggle("Compute (scores every lead at two quarter ends)", key="review_invest"):
            invest = review.where_to_invest(filters, by)
            review.invest_tables(invest)

st.subheader("Share")
st.caption("One HTML file with the charts inside (opens offline in any browser) or the JSON with every figure.")
review.report_downloads(result, invest, name=f"monthly_review_{chosen}")
