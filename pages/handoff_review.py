"""Handoff review: the 30-day plan's week 4 — a reproducible sample of recent MQLs, SQLs and opportunities,
judged by marketing and sales together (right stage, right owner, right next action?)."""

from __future__ import annotations

from datetime import datetime
from functools import partial

import streamlit as st

from funnel import export
from funnel.analyses.monthly import last_complete_month, month_end
from funnel.analyses.review_sample import (
    QUESTIONS,
    record_verdict,
    review_disagreements,
    review_sample,
    sample_id,
    sample_with_verdicts,
    verdict_history,
    verdict_summary,
    verdicts,
)
from funnel.errors import FunnelError
from pages import ui

ui.routed()
filters = ui.current_filters()
st.title("Handoff review")
ui.sample_notice()
st.caption("A random sample of the period's MQLs, SQLs and opportunities (stratified by stage and owner; the same "
           "period, size and seed always give the same sample). Each reviewer marks, per lead, whether the stage, "
           "the owner and the next action were right, with a reason. Verdicts are saved with who and when; a "
           "changed verdict keeps the earlier one in the history.")

month = last_complete_month(filters.as_of)
left, middle, right = st.columns([2, 1, 1])
period = left.date_input("Period", value=(month, month_end(month)), key="hr_period",
                         help="The stage entries of this period are sampled (default: the last complete month).")
size = middle.number_input("Sample size", min_value=1, max_value=500, value=30, step=5, key="hr_size")
seed = right.number_input("Seed", min_value=0, max_value=10**9, value=7, step=1, key="hr_seed")
if not isinstance(period, tuple) or len(period) != 2:
    st.info("Pick the first and the last day of the period.")
    st.stop()
start, end = period
try:
    sample = ui.computed(review_sample, as_of=filters.as_of, start=start, end=end, size=int(size), seed=int(seed))
except FunnelError as error:
    ui.show_error(error)
    st.stop()
name = sample_id(start, end, size=int(size), seed=int(seed))
st.text(f"Sample {name}: {sample.height} leads")
if sample.is_empty():
    st.info("No lead entered MQL, SQL or opportunity in this period (and still sits there at the as-of date).")
    st.stop()
st.dataframe(sample, hide_index=True, key="hr_sample")

st.subheader("Give a verdict")
reviewer = st.text_input("Reviewer", value="local user", key="hr_reviewer",
                         help="Your name, saved with each verdict.")
lead = st.selectbox("Lead", sample.get_column("lead_id").to_list(), key="hr_lead")
row = sample.row(sample.get_column("lead_id").to_list().index(lead), named=True)
st.text(f"{row['name'] or ''} · {row['company'] or ''} · stage {row['stage']} · owner {row['owner']} · rules route "
        f"to {row['next_owner'] or '-'}: {row['next_action'] or '-'}")
answers = {}
for question in QUESTIONS:
    a, b = st.columns([1, 2])
    answers[question] = (
        a.radio(f"{question.replace('_', ' ').capitalize()} right?", ["not judged", "right", "wrong"], horizontal=True,
                key=f"hr_{question}"),
        b.text_input(f"Reason ({question.replace('_', ' ')})", key=f"hr_{question}_reason"),
    )
if st.button("Save verdicts", key="hr_save", icon=":material/save:"):
    con = ui.cursor()
    try:
        saved = 0
        for question, (answer, reason) in answers.items():
            if answer == "not judged":
                continue
            record_verdict(con, sample=name, lead_id=lead, question=question, right=answer == "right",
                           reason=reason, reviewer=reviewer, now=datetime.now())
            saved += 1
        st.success(f"Saved {saved} verdict(s).")
    except FunnelError as error:
        ui.show_error(error)
    finally:
        con.close()

con = ui.cursor()
try:
    current = verdicts(con, sample=name)
    history = verdict_history(con, sample=name)
finally:
    con.close()

st.subheader("What the reviewers said")
st.dataframe(verdict_summary(current), hide_index=True, key="hr_summary",
             column_config={c: st.column_config.NumberColumn(format="percent")
                            for c in ("share_right", "share_low", "share_high")})
disagreements = review_disagreements(sample, current)
if disagreements.height:
    st.caption("Where reviewers disagree with the rules:")
    for sentence in disagreements.get_column("sentence").to_list():
        st.text("• " + sentence)
with st.expander(f"Every verdict given ({history.height}, changes included)"):
    st.dataframe(history, hide_index=True, key="hr_history")
full = sample_with_verdicts(sample, current)
left, right = st.columns(2)
left.download_button("Download the sample with verdicts (CSV)", partial(export.csv_bytes, full),
                     file_name=export.download_name("handoff_review_sample", as_of=filters.as_of, ext="csv"),
                     mime="text/csv", key="hr_csv", icon=":material/download:")
right.download_button("Download (XLSX)", partial(export.xlsx_bytes, full),
                      file_name=export.download_name("handoff_review_sample", as_of=filters.as_of, ext="xlsx"),
                      mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key="hr_xlsx",
                      icon=":material/download:")
