"""The monthly review's and the handoff review sample's cached calls and render helpers: the report
files built only when a download button is clicked, the where-to-invest tables, the verdict form."""

from __future__ import annotations

import json
from datetime import date, datetime
from functools import partial

import polars as pl
import streamlit as st

from funnel.access import Action
from funnel.analyses import monthly, review_sample
from funnel.charts.monthly import figure_dicts, review_figures
from funnel.display.report import data_provenance, review_document, review_html
from funnel.filters import Filters
from pages.ui import cache
from pages.ui.access import allowed, require, role_note
from pages.ui.store import COMPUTING, StoreKey, inventory, key, opened, writing
from pages.ui.widgets import table as readable_table


def table(frame: pl.DataFrame, *, key: str) -> None:
    """A review table as people read it (the one label table's headers and formats)."""
    readable_table(frame, key=key, column_config_overrides={  # a review's change is one of a rate
        "change": st.column_config.NumberColumn("Change", format="percent")})


def month_options(as_of: date) -> tuple[list[date], date]:
    """The months a review can cover (newest first) and the default: the last complete month at D."""
    frame, _ = inventory()
    first = frame.get_column("first").min()
    return monthly.month_choices(first.date() if first is not None else None, as_of), monthly.last_complete_month(as_of)


@st.cache_data(max_entries=16, show_spinner=COMPUTING)
def _review(at: StoreKey, as_of: date, month: date, ladder: str, by: str | None) -> monthly.MonthlyReview:
    with at.opened() as con:
        return monthly.monthly_review(con, settings=at.settings, as_of=as_of, month=month, ladder=ladder, by=by)


def review(filters: Filters, month: date, by: str | None) -> monthly.MonthlyReview:
    return _review(key(), filters.as_of, month, filters.ladder, by)


@st.cache_data(max_entries=8, show_spinner=COMPUTING)
def _where_to_invest(at: StoreKey, as_of: date, ladder: str, by: str) -> dict[str, pl.DataFrame]:
    with at.opened() as con:
        return monthly.where_to_invest(con, settings=at.settings, as_of=as_of, by=by, ladder=ladder)


def where_to_invest(filters: Filters, by: str) -> dict[str, pl.DataFrame]:
    return _where_to_invest(key(), filters.as_of, filters.ladder, by)


def invest_tables(invest: dict[str, pl.DataFrame]) -> None:
    table(invest["ranking"], key="review_ranking")
    st.text("Segments of leads matching no ICP that convert better than the rest beyond chance:")
    table(invest["outliers"], key="review_outliers")
    st.text("ICP criteria and activity types: lift at the last two quarter ends (changed = intervals apart):")
    table(invest["icp_lift"], key="review_icp_lift")


DRAFT_SOURCE = "an unsaved draft of the settings (not the saved version)"


def _document(at: StoreKey, result: monthly.MonthlyReview, invest: dict | None) -> dict:
    """The review as one dict, its provenance read where its figures were computed (the database, or the Spark
    dataset) and naming the settings they used (this person's draft when they compute on it)."""
    with at.opened() as con:
        provenance = data_provenance(con, settings_source=DRAFT_SOURCE if at.on_draft else None)
    return review_document(result, invest=invest, provenance=provenance)


def _html(at: StoreKey, result: monthly.MonthlyReview, invest: dict | None) -> bytes:
    return review_html(_document(at, result, invest), figure_dicts(review_figures(result))).encode("utf-8")


def _json(at: StoreKey, result: monthly.MonthlyReview, invest: dict | None) -> bytes:
    return json.dumps(_document(at, result, invest), ensure_ascii=False, indent=1).encode("utf-8")


def report_downloads(result: monthly.MonthlyReview, invest: dict | None, *, name: str) -> None:
    """HTML and JSON downloads of the review, written only when a button is clicked (analysts and admins)."""
    if not allowed(Action.EXPORT):
        role_note(Action.EXPORT)
        return
    at = key()  # the database, engine and settings the review was computed on
    left, right = st.columns(2)
    left.download_button("Download the HTML report", partial(_html, at, result, invest), file_name=f"{name}.html",
                         mime="text/html", key="review_html", icon=":material/download:")
    right.download_button("Download the JSON", partial(_json, at, result, invest), file_name=f"{name}.json",
                          mime="application/json", key="review_json", icon=":material/download:")


# ------------------------------------------------------------------------------ handoff review sample


@st.cache_data(max_entries=16, show_spinner=COMPUTING)
def _sample(at: StoreKey, as_of: date, start: date, end: date, size: int, seed: int) -> pl.DataFrame:
    scores = cache.shared_lead_scores(at, as_of)  # every lead is routed for the sample: the scores every page shares
    with at.opened() as con:
        return review_sample.review_sample(con, settings=at.settings, as_of=as_of, start=start, end=end, size=size,
                                           seed=seed, scores=scores)


def sample(filters: Filters, start: date, end: date, size: int, seed: int) -> pl.DataFrame:
    return _sample(key(), filters.as_of, start, end, size, seed)


def verdicts(name: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(current verdicts, every verdict given) of a sample: read fresh, never cached (reviewers write)."""
    with opened() as con:
        return review_sample.verdicts(con, sample=name), review_sample.verdict_history(con, sample=name)


def verdict_form(name: str, lead: str) -> None:
    """Per question: right / wrong / not judged and a reason; the Save button stores the judged ones with the
    reviewer: the signed-in person, or on a local dashboard the name typed (the computer's user by default)."""
    if not allowed(Action.REVIEW):
        role_note(Action.REVIEW)
        return
    person = require(Action.REVIEW)
    reviewer = (person.label if person.signed_in else
                st.text_input("Reviewer", value=person.name, key="hr_reviewer", help="Your name, saved with each "
                              "verdict.") or person.name)
    answers = {}
    for question in review_sample.QUESTIONS:
        label = question.replace("_", " ")
        left, right = st.columns([1, 2])
        answers[question] = (left.radio(f"{label.capitalize()} right?", ["not judged", "right", "wrong"],
                                        horizontal=True, key=f"hr_{question}"),
                             right.text_input(f"Reason ({label})", key=f"hr_{question}_reason"))
    if not st.button("Save verdicts", key="hr_save", icon=":material/save:"):
        return
    judged = {q: a for q, a in answers.items() if a[0] != "not judged"}
    require(Action.REVIEW)
    with writing() as con:
        for question, (answer, reason) in judged.items():
            review_sample.record_verdict(con, sample=name, lead_id=lead, question=question, right=answer == "right",
                                         reason=reason, reviewer=reviewer, now=datetime.now())
    st.success(f"Saved {len(judged)} verdict(s).")
