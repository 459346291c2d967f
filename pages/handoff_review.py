"""Handoff review: the 30-day plan's week 4 — a reproducible sample of recent MQLs, SQLs and opportunities,
judged by marketing and sales together (right stage, right owner, right next action?)."""

from __future__ import annotations

import streamlit as st

from funnel.analyses.monthly import last_complete_month, month_end
from funnel.analyses.review_sample import (
    review_disagreements,
    sample_id,
    sample_with_verdicts,
    verdict_summary,
)
from funnel.display.labels import stage_label
from funnel.errors import FunnelError
from pages.ui import review, sidebar, widgets

sidebar.routed()
filters = sidebar.current_filters()
st.title("Handoff review")
sidebar.require_dates("The handoff review")
sidebar.model_note()
sidebar.sample_notice()
st.caption("A random sample of the period's MQLs, SQLs and opportunities (stratified by stage and owner; the same "
           "period, size and seed always give the same sample). Each reviewer marks, per lead, whether the stage, "
           "the owner and the next action were right, with a reason. Verdicts are saved with who and when; a "
           "changed verdict keeps the earlier one in the history.")

month = last_complete_month(filters.as_of)
left, middle, right = st.columns([2, 1, 1])
period = left.date_input("Period", value=(month, month_end(month)), key="hr_period",
                         help="The stage entries of this period are sampled (default: the last complete month).")
size = int(middle.number_input("Sample size", min_value=1, max_value=500, value=30, step=5, key="hr_size"))
seed = int(right.number_input("Seed", min_value=0, max_value=10**9, value=7, step=1, key="hr_seed"))
if not isinstance(period, tuple) or len(period) != 2:
    st.info("Pick the first and the last day of the period.")
    st.stop()
start, end = period
try:
    sample = review.sample(filters, start, end, size, seed)
except FunnelError as error:
    widgets.show_problem(error)
    st.stop()
name = sample_id(start, end, size=size, seed=seed)
st.text(f"Sample {name}: {sample.height} leads")
if sample.is_empty():
    st.info("No lead entered MQL, SQL or opportunity in this period (and still sits there at the as-of date).")
    st.stop()
widgets.table(sample, key="hr_sample")

st.subheader("Give a verdict")
lead = st.selectbox("Lead", sample.get_column("lead_id").to_list(), key="hr_lead")
row = sample.row(sample.get_column("lead_id").to_list().index(lead), named=True)
st.text(f"{row['name'] or ''} · {row['company'] or ''} · stage {stage_label(row['stage'])} · owner {row['owner']} · the rules "
        f"route to {row['next_owner'] or '-'}: {row['next_action'] or '-'}")
try:
    review.verdict_form(name, lead)
except FunnelError as error:
    widgets.show_problem(error)

current, history = review.verdicts(name)
st.subheader("What the reviewers said")
review.table(verdict_summary(current), key="hr_summary")
disagreements = review_disagreements(sample, current)
if disagreements.height:
    st.caption("Where reviewers disagree with the rules:")
    for sentence in disagreements.get_column("sentence").to_list():
        st.text("• " + sentence)
with st.expander(f"Every verdict given ({history.height}, changes included)"):
    widgets.table(history, key="hr_history")
widgets.download_buttons(sample_with_verdicts(sample, current), base="handoff_review_sample", as_of=filters.as_of,
                         key="hr_export")
