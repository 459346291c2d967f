"""Monthly review: this month against last month (and a year earlier), what moved and why, a report to share."""

from __future__ import annotations

import json
from functools import partial

import streamlit as st

from funnel.analyses.monthly import last_complete_month, month_choices, monthly_review, where_to_invest
from funnel.charts.monthly import figure_dicts, review_figures
from funnel.display.report import data_provenance, review_document, review_html
from funnel.errors import FunnelError
from pages import ui

ui.routed()
filters = ui.current_filters()
st.title("Monthly review")
ui.sample_notice()
frame, _ = ui.inventory()
first = frame.get_column("first").min()
months = month_choices(first.date() if first is not None else None, filters.as_of)
default = last_complete_month(filters.as_of)
labels = [m.strftime("%Y-%m") for m in months]
left, right = st.columns(2)
chosen = left.selectbox("Month", labels, index=labels.index(f"{default:%Y-%m}") if f"{default:%Y-%m}" in labels else 0,
                        key="review_month", bind="query-params",
                        help="The calendar month reviewed; default: the last complete month at the as-of date.")
dimensions = ui.segment_dimensions(filters)
by = right.selectbox("Segments by", ["(none)", *dimensions],
                     index=(dimensions.index("source") + 1) if "source" in dimensions else 0, key="review_by",
                     bind="query-params", help="The dimension whose mix and rates explain the changes.")
by = None if by in (None, "(none)") else by
if not months or chosen is None:
    st.info("No dated data yet: import leads or stage events with dates.")
    st.stop()
month = months[labels.index(chosen)]
try:
    review = ui.computed(monthly_review, as_of=filters.as_of, month=month, ladder=filters.ladder, by=by)
except FunnelError as error:
    ui.show_error(error)
    st.stop()
st.caption(f"{month:%B %Y} against {review.months['previous']:%B %Y}"
           + (f" and {review.months['year_ago']:%B %Y}" if "year_ago" in review.months else
              " (the data does not reach a year earlier)")
           + f". Conversion outcomes as of the end of {filters.as_of:%d %b %Y}: the newest month's entries may be "
             "mostly open, shown as such, never as a drop.")
for note in review.notes:
    st.caption(note)

st.subheader("Highlights")
st.caption("Only changes beyond chance (exact test where a count is small, Benjamini–Hochberg across every change "
           "tested). Pick one to list the leads behind it.")
if review.highlights.height:
    for sentence in review.highlights.get_column("sentence").to_list():
        st.text("• " + sentence)
    pick = st.selectbox("Leads behind", review.highlights.get_column("sentence").to_list(), key="review_behind",
                        index=None, placeholder="Choose a highlight")
    if pick is not None:
        row = review.highlights.row(review.highlights.get_column("sentence").to_list().index(pick), named=True)
        segment = {by: row["segment"]} if row["kind"] == "segment" and by else None
        rows = ui.behind(filters, kind="conversion", from_stage=row["from_stage"], cohort_month=month, segment=segment)
        ui.leads_table(rows, title=f"Entries into {row['from_stage']} in {month:%B %Y}", base="review_leads",
                       as_of=filters.as_of, key="review_leads")
else:
    st.text("No change since last month is beyond chance.")

figures = review_figures(review)
st.subheader("Headline numbers")
month_column = {"month": st.column_config.DateColumn(format="YYYY-MM"),
                "month_end": st.column_config.DateColumn(format="YYYY-MM-DD")}
st.dataframe(review.headline, hide_index=True, key="review_headline", column_config=month_column)
st.plotly_chart(figures["distribution"], key="review_distribution_chart")
st.subheader("Step conversion of each month's entries")
st.plotly_chart(figures["conversion"], key="review_conversion_chart")
percent = {c: st.column_config.NumberColumn(format="percent") for c in
           ("rate", "rate_lo", "rate_hi", "share", "acceptance_rate", "acceptance_low", "acceptance_high",
            "rate_cur", "rate_prev", "share_cur", "share_prev", "mix_part", "rate_part", "change",
            "rate_lo_cur", "rate_hi_cur", "rate_lo_prev", "rate_hi_prev")}
st.dataframe(review.conversion, hide_index=True, key="review_conversion", column_config={**percent, **month_column})
st.subheader("Aging: leads over SLA at each month end")
st.dataframe(review.aging.filter(review.aging["sla_days"].is_not_null()), hide_index=True, key="review_aging",
             column_config=month_column)
if review.handoff.height:
    st.subheader("Handoff acceptance and speed-to-lead")
    st.dataframe(review.handoff, hide_index=True, key="review_handoff", column_config={**percent, **month_column})
if review.deals.height:
    st.subheader("Deals closed in each month")
    st.dataframe(review.deals, hide_index=True, key="review_deals", column_config={**percent, **month_column})
if by and review.segment_health.height:
    st.subheader(f"Segment health by {by}")
    st.caption("The change of each overall rate split into mix (where this month's entries came from) and rate "
               "(how each segment converted); the two parts add up to the change.")
    st.plotly_chart(figures["segment_health_mix"], key="review_mix_chart")
    st.plotly_chart(figures["segment_health_rates"], key="review_rates_chart")
    st.dataframe(review.segment_health, hide_index=True, key="review_health", column_config=percent)

invest = None
if by:
    with st.expander(f"Where to invest: segments of {by} ranked, outliers without an ICP, ICP lift by quarter"):
        if st.toggle("Compute (scores every lead at two quarter ends)", key="review_invest"):
            invest = ui.computed(where_to_invest, as_of=filters.as_of, by=by, ladder=filters.ladder)
            st.dataframe(invest["ranking"], hide_index=True, key="review_ranking", column_config=percent)
            st.text("Segments of leads matching no ICP that convert better than the rest beyond chance:")
            st.dataframe(invest["outliers"], hide_index=True, key="review_outliers", column_config=percent)
            st.dataframe(invest["icp_lift"], hide_index=True, key="review_icp_lift")


def report_document() -> dict:
    return review_document(review, invest=invest, provenance=ui.computed(data_provenance))


def report_html() -> bytes:
    return review_html(report_document(), figure_dicts(figures)).encode("utf-8")


def report_json() -> bytes:
    return json.dumps(report_document(), ensure_ascii=False, indent=1).encode("utf-8")


st.subheader("Share")
st.caption("One HTML file with the charts inside (opens offline in any browser) or the JSON with every figure.")
left, right = st.columns(2)
left.download_button("Download the HTML report", partial(report_html), file_name=f"monthly_review_{chosen}.html",
                     mime="text/html", key="review_html", icon=":material/download:")
right.download_button("Download the JSON", partial(report_json), file_name=f"monthly_review_{chosen}.json",
                      mime="application/json", key="review_json", icon=":material/download:")
