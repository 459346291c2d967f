"""The pages' interactive paths under AppTest, on the bundled sample: searching a lead, crossing segments,
changing the conversion policy and window, the matrix queues and thresholds, and editing the rules."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from funnel.display.labels import stage_label, value_label
from funnel.model.matrix import QUEUES, REACTIVATION_QUEUE
from pages.ui.widgets import SHOWN_ROWS
from tests.apptest import app, copied

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_LEADS = pl.read_csv(ROOT / "sample_data" / "leads.csv", infer_schema_length=0)
FIRST_LEAD = SAMPLE_LEADS.get_column("lead_id")[0]
FIRST_SUBSCRIBER = SAMPLE_LEADS.filter(pl.col("lifecycle_stage") == "subscriber").get_column("lead_id")[0]
QUEUE_COLUMNS = ["lead_id", "name", "email", "company", "title", "owner", "funnel_stage", "lifecycle_stage",
                 "fit_score", "icp", "intent_score", "quadrant", "next_owner", "next_action", "next_action_due"]


@pytest.fixture(scope="module")
def sample_db(bundled_sample, tmp_path_factory) -> Path:
    return copied(bundled_sample, tmp_path_factory.mktemp("pages") / "sample.duckdb")


@pytest.fixture
def at(sample_db, monkeypatch) -> AppTest:
    test = app(sample_db, monkeypatch, sample=False)
    test.run()
    assert not test.exception
    return test


def on_page(at: AppTest, page: str) -> AppTest:
    at.switch_page(page).run()
    assert not at.exception
    return at


def table(at: AppTest, *columns: str) -> pd.DataFrame:
    """The one dataframe on the page that has these columns (display tables carry no key under AppTest)."""
    found = [d.value for d in at.dataframe if set(columns) <= set(d.value.columns)]
    assert len(found) == 1, f"{len(found)} tables have the columns {columns}"
    return found[0]


def texts(at: AppTest) -> list[str]:
    return [t.value for t in at.text]


# ------------------------------------------------------------------------------------------------- Lead


@pytest.mark.parametrize("lead_id", [FIRST_LEAD, FIRST_SUBSCRIBER])
def test_lead_page_shows_card_timeline_fit_and_intent(at, lead_id):
    on_page(at, "pages/lead.py")
    at.text_input(key="lead_q").set_value(lead_id).run()
    assert not at.exception
    matches = table(at, "lead_id", "name", "email", "company", "lifecycle_stage", "owner")
    assert matches["lead_id"].iloc[0] == lead_id
    assert at.selectbox(key="lead_id").value == lead_id

    card = dict(zip(*table(at, "", "value").T.values))
    assert list(card) == ["funnel stage", "since", "lifecycle stage", "fit", "ideal customer profile", "intent",
                          "quadrant", "tags", "team", "next owner", "next action", "due", "routed by rule",
                          "nurture track", "evidence"]
    assert card["routed by rule"] not in ("", "–")  # every lead is routed by exactly one rule
    timeline = table(at, "at", "kind", "caused", "stage")
    assert len(timeline) > 0
    fit = table(at, "icp", "best", "matched", "counted")
    assert int(fit["counted"].sum()) == int(card["fit"])
    assert fit.loc[~fit["best"].astype(bool), "counted"].sum() == 0      # only the best profile counts
    intent = table(at, "activity_type", "decay", "counted")
    assert f"{intent['counted'].sum():.1f}" == card["intent"]
    assert f"Fit score: {card['fit']} (the best profile's matched points, at most 100)" in texts(at)
    if card["funnel stage"] != "Customer":  # the card names stages as people say them
        gaps = table(at, "stage", "text", "have", "need", "by")
        assert len(gaps) > 0


def test_lead_search_by_email_domain_and_picking_another_match(at):
    domain = SAMPLE_LEADS.get_column("email")[0].split("@")[1]
    expected = SAMPLE_LEADS.filter(pl.col("email").str.contains(domain, literal=True)
                                   | pl.col("name").str.to_lowercase().str.contains(domain, literal=True))
    on_page(at, "pages/lead.py")
    at.text_input(key="lead_q").set_value(domain.upper()).run()
    assert not at.exception
    matches = table(at, "lead_id", "name", "email", "company", "lifecycle_stage", "owner")
    assert sorted(matches["lead_id"]) == sorted(expected.get_column("lead_id"))
    last = at.selectbox(key="lead_id").options[-1]
    at.selectbox(key="lead_id").set_value(last).run()
    assert not at.exception
    card = dict(zip(*table(at, "", "value").T.values))
    fit = table(at, "icp", "best", "matched", "counted")
    assert int(fit["counted"].sum()) == int(card["fit"])


@pytest.mark.parametrize("query", ["no such lead at all", "%", "_", "' OR 1=1 --"])
def test_lead_search_without_a_match_says_so(at, query):
    on_page(at, "pages/lead.py")
    at.text_input(key="lead_q").set_value(query).run()
    assert not at.exception
    assert any("No lead matches" in i.value for i in at.info)
    assert len(at.dataframe) == 0


def test_a_lead_created_after_the_as_of_date_is_explained(at):
    newest = SAMPLE_LEADS.sort("created_at").row(-1, named=True)
    on_page(at, "pages/lead.py")
    at.date_input(key="as_of").set_value(date.fromisoformat(newest["created_at"][:10]) - timedelta(days=1))
    at.text_input(key="lead_q").set_value(newest["lead_id"]).run()
    assert not at.exception
    assert any("created after the as-of date" in i.value for i in at.info)
    assert not [t for t in texts(at) if t.startswith("Fit score")]


# --------------------------------------------------------------------------------------------- Segments


def test_segments_crossed_with_a_second_dimension(at):
    on_page(at, "pages/segments.py")
    assert at.selectbox(key="seg_by").value == "source"
    assert "Industry" in at.selectbox(key="seg_by2").options  # options read as people say them
    at.selectbox(key="seg_by2").set_value("industry").run()
    assert not at.exception
    readable = table(at, "source", "industry", "leads", "→ Customer")
    assert tuple(readable.iloc[0][["source", "industry"]]) == ("everyone", "")
    segments = readable.iloc[1:]
    assert (segments["source"] != "everyone").all() and (segments["industry"] != "").all()
    assert segments["leads"].sum() == readable["leads"].iloc[0]          # the crossed cells cover everyone
    assert len(segments[["source", "industry"]].drop_duplicates()) == len(segments)

    at.selectbox(key="seg_rate").set_value("win_rate").run()
    assert not at.exception
    at.toggle(key="seg_full").set_value(True).run()
    assert not at.exception
    full = table(at, "source", "industry", "reached_customer_rate_p_value", "win_rate_q_value")
    assert len(full) == len(readable)


@pytest.mark.parametrize(("page", "key", "columns"), [
    ("pages/aging.py", "aging_by", ("stage", "leads", "over_sla")),
    ("pages/distribution.py", "dist_by", ("stage", "leads")),
    ("pages/conversion.py", "conv_by", ("from_stage", "to_stage", "entered")),
])
def test_a_segmented_table_names_its_total_rows_everyone(at, page, key, columns):
    on_page(at, page)
    at.selectbox(key=key).set_value("source").run()
    assert not at.exception
    shown = table(at, "source", *columns)
    assert shown["source"].iloc[0] == "everyone"
    assert shown["source"].notna().all() and (shown["source"] != "").all()
    everyone = shown[shown["source"] == "everyone"]
    assert everyone["leads" if "leads" in columns else "entered"].sum() == \
        shown[shown["source"] != "everyone"]["leads" if "leads" in columns else "entered"].sum()


def test_segments_without_a_segment_and_with_the_crossed_one_moved_first(at):
    on_page(at, "pages/segments.py")
    at.selectbox(key="seg_by2").set_value("industry").run()
    at.selectbox(key="seg_by").set_value("industry").run()               # the crossed choice is now the first
    assert not at.exception
    assert at.selectbox(key="seg_by2").value == "(none)"
    readable = table(at, "industry", "leads", "→ Customer")
    assert "source" not in readable.columns and readable["industry"].iloc[0] == "everyone"
    at.selectbox(key="seg_by").set_value("(none)").run()
    assert not at.exception
    assert any("Pick a segment" in i.value for i in at.info)
    only = table(at, "segment", "leads", "→ Customer")
    assert list(only["segment"]) == ["everyone"] and only["leads"].iloc[0] == len(SAMPLE_LEADS)


# ------------------------------------------------------------------------------------------- Conversion

OUTCOMES = ["advanced", "lost", "expired", "open"]


def test_conversion_strict_with_a_30_day_window(at):
    on_page(at, "pages/conversion.py")
    assert at.number_input(key="conv_window").value == 90
    at.selectbox(key="conv_skipped").set_value("strict").run()
    assert not at.exception
    strict_90 = table(at, "from_stage", "to_stage", "entered", "excluded", "rate_interval")
    at.number_input(key="conv_window").set_value(30).run()
    assert not at.exception
    strict_30 = table(at, "from_stage", "to_stage", "entered", "excluded", "rate_interval")
    for steps in (strict_90, strict_30):
        assert "implied" not in steps.columns                               # strict: nothing is implied
        assert (steps[OUTCOMES].sum(axis=1) == steps["entered"]).all()     # the outcomes add up
    assert strict_90["excluded"].sum() > 0
    assert (strict_30["advanced"] <= strict_90["advanced"]).all()         # a shorter window never advances more
    assert (strict_30["entered"] + strict_30["excluded"] == strict_90["entered"] + strict_90["excluded"]).all()


def test_conversion_against_the_previous_period(at):
    on_page(at, "pages/conversion.py")
    at.date_input(key="from").set_value(date(2026, 7, 1))
    at.date_input(key="to").set_value(date(2026, 7, 31)).run()
    assert not at.exception
    compared = table(at, "from_stage", "to_stage", "rate_before", "change_pts")
    steps = table(at, "from_stage", "to_stage", "implied", "rate_interval")
    assert list(compared["entered"]) == list(steps["entered"])
    both = compared.dropna(subset=["rate", "rate_before"])
    assert len(both) > 0
    assert ((both["change_pts"] - (both["rate"] - both["rate_before"]) * 100).abs() <= 0.05 + 1e-9).all()
    assert compared.loc[compared["rate"].isna() | compared["rate_before"].isna(), "change_pts"].isna().all()


# ----------------------------------------------------------------------------------------------- Matrix


@pytest.mark.parametrize("queue", [*QUEUES, REACTIVATION_QUEUE])
def test_matrix_page_with_each_work_queue(at, queue):
    on_page(at, "pages/matrix.py")
    at.segmented_control(key="mx_queue").set_value(queue).run()
    assert not at.exception
    rows = table(at, *QUEUE_COLUMNS)
    said = next(text for text in texts(at) if text.startswith(f"{queue}: "))
    count = int(said.removeprefix(f"{queue}: ").split(" rows")[0].replace(",", ""))
    assert len(rows) == min(count, SHOWN_ROWS)  # a long list shows its first rows and says so
    assert ("the first 1,000 are shown" in said) == (count > SHOWN_ROWS)
    assert len(rows) > 0
    assert "Customer" not in set(rows["funnel_stage"]) or queue == REACTIVATION_QUEUE
    if queue == REACTIVATION_QUEUE:
        assert set(rows["funnel_stage"]) == {stage_label("reactivation")}
    else:
        assert set(rows["quadrant"]) == {value_label(QUEUES[queue])}
        cells = table(at, "label", "leads", "share", "cohort", "rate")
        assert cells["leads"].sum() == len(SAMPLE_LEADS)          # every sample lead exists at the newest date
        assert count <= cells.loc[list(QUEUES).index(queue), "leads"]


def test_raising_the_fit_threshold_on_the_matrix_page(at):
    on_page(at, "pages/matrix.py")
    before = table(at, "label", "leads", "share", "cohort", "rate")
    sdr_before = len(table(at, *QUEUE_COLUMNS))
    at.slider(key="mx_fit").set_value(80).run()
    assert not at.exception
    after = table(at, "label", "leads", "share", "cohort", "rate")
    sdr = table(at, *QUEUE_COLUMNS)
    assert (sdr["fit_score"] >= 80).all() and len(sdr) <= sdr_before
    assert (after["leads"].iloc[:2] <= before["leads"].iloc[:2]).all()      # the high-fit cells
    assert after["leads"].sum() == before["leads"].sum()
    assert after["share"].sum() == pytest.approx(1.0)


# ------------------------------------------------------------------------------------------------ Rules


@pytest.fixture(scope="module")
def rules_db(bundled_sample, tmp_path_factory) -> Path:
    """A store of its own: saving a version changes the settings every later page would use."""
    return copied(bundled_sample, tmp_path_factory.mktemp("rules") / "sample.duckdb")


def summary_value(at: AppTest, setting: str) -> str:
    summary = table(at, "setting", "value")
    return summary.loc[summary["setting"] == setting, "value"].iloc[0]


def test_rules_invalid_edit_saves_nothing_and_a_valid_edit_saves_version_1(rules_db, monkeypatch):
    at = app(rules_db, monkeypatch, sample=False)
    at.run()
    on_page(at, "pages/rules.py")
    original = at.text_area(key="rules_text").value
    assert re.search(r"^window_days = 90$", original, flags=re.MULTILINE)
    assert summary_value(at, "conversion window (days)") == "90"

    at.text_area(key="rules_text").set_value(original.replace("window_days = 90", "window_days = -5", 1)).run()
    assert not at.exception
    assert [e.value for e in at.error] == ["These settings are not valid; nothing was saved."]
    assert any("window_days" in t for t in texts(at))
    assert "rules_save" not in [b.key for b in at.button]
    assert any("No edits saved yet" in c.value for c in at.caption)
    assert summary_value(at, "conversion window (days)") == "90"

    at.text_area(key="rules_text").set_value(original.replace("window_days = 90", "window_days = 45", 1)).run()
    assert not at.exception
    assert not at.error and [s.value for s in at.success] == ["Valid settings."]
    backtest = table(at, "month_end", "settings", "measure")
    assert set(backtest["settings"]) == {"current", "proposed"}
    at.text_input(key="rules_note").set_value("shorter window")
    at.button(key="rules_save").click().run()
    assert not at.exception
    assert summary_value(at, "conversion window (days)") == "45"
    versions = table(at, "version", "saved_at", "note")
    assert versions[["version", "note"]].values.tolist() == [[1, "shorter window"]]

    on_page(at, "pages/conversion.py")
    assert at.number_input(key="conv_window").value == 45             # every page now uses the new version
