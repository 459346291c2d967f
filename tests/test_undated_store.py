"""A store with leads but no dates (X Education's Leads.csv holds no date column): every page shows what needs
no dates (the distribution by current stage, segments, lead search, data quality) and says plainly what needs
dates, instead of "no data". The store holds tests/fixtures/x_education_leads.csv (24 rows, 8 converted: 4 of 4
API, 4 of 16 Landing Page Submission, 0 of 4 Lead Add Form) with `Converted` mapped to the lifecycle stage."""

from __future__ import annotations

from pathlib import Path

import pytest

from funnel.config import default_settings
from funnel.ingest.importer import prepare_import, write_import
from funnel.ingest.mapping import mapping_from_text
from funnel.ingest.mapping_guess import mapping_text
from funnel.model.build import rebuild_model
from funnel.store.db import connect
from tests.apptest import ROOT, app, copied

XED = ROOT / "tests" / "fixtures" / "x_education_leads.csv"
PAGES = sorted(p.stem for p in (ROOT / "pages").glob("*.py") if p.stem != "__init__")
NEEDS_DATES = {"conversion": "Conversion", "aging": "Aging", "monthly_review": "The monthly review",
               "handoff_review": "The handoff review"}


@pytest.fixture(scope="module")
def undated_store(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("undated") / "xed.duckdb"
    text = mapping_text("X Education", table="leads",
                        columns={"lead_id": "Prospect ID", "source": "Lead Source", "country": "Country",
                                 "lifecycle_stage": "Converted"},
                        values={"lifecycle_stage": {"1": "customer", "0": "lead"}})
    item = prepare_import(XED, name="Leads.csv", mapping=mapping_from_text(text, source="mapping"),
                          settings=default_settings())
    con = connect(db)
    try:
        write_import(con, item)
        rebuild_model(con, settings=default_settings())
    finally:
        con.close()
    return db


def opened_page(db: Path, tmp_path: Path, monkeypatch, page: str):
    at = app(copied(db, tmp_path / "store.duckdb"), monkeypatch, sample=False)
    at.run()
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, f"{page}: {at.exception}"
    return at


def infos(at) -> list[str]:
    return [i.value for i in at.info]


@pytest.mark.parametrize("page", PAGES)
def test_no_page_says_there_is_no_data_and_the_sidebar_says_there_are_no_dates(undated_store, tmp_path, monkeypatch,
                                                                               page):
    at = opened_page(undated_store, tmp_path, monkeypatch, page)
    assert not any("There is no data yet" in i for i in infos(at))
    assert "No dates in this database: every lead is counted at its current stage." in [c.value for c in at.sidebar.caption]
    assert not [d for d in at.sidebar.date_input if d.key == "as_of"], "no as-of date to pick without dates"
    if page in NEEDS_DATES:
        assert infos(at)[0].startswith(f"{NEEDS_DATES[page]} needs dates, and this database has none.")


def stages_shown(at) -> dict[str, int]:
    table = next(d.value for d in at.dataframe if "stage" in d.value.columns)
    return dict(zip(table["stage"], table["leads"], strict=True))


@pytest.mark.parametrize("page", ["overview", "distribution"])
def test_the_distribution_by_current_stage_needs_no_dates(undated_store, tmp_path, monkeypatch, page):
    at = opened_page(undated_store, tmp_path, monkeypatch, page)
    shown = {stage: n for stage, n in stages_shown(at).items() if n}
    assert shown == {"Lead": 16, "Customer": 8}
    assert any("needs dates" in i or "need dates" in i for i in infos(at)), "what needs dates is said"
    assert not at.get("plotly_chart"), "no trend chart without dates"


def test_segments_show_conversion_by_lead_origin_without_dates(undated_store, tmp_path, monkeypatch):
    at = opened_page(undated_store, tmp_path, monkeypatch, "segments")
    at.selectbox(key="seg_by").select("attr:Lead Origin").run()
    assert not at.exception
    table = at.dataframe[0].value
    rows = {r["attr:Lead Origin"]: (r["leads"], r["→ Customer"]) for r in table.to_dict("records")}
    assert rows == {"everyone": (24, "33.3% (18.0–53.3)"), "API": (4, "100.0% (51.0–100.0)"),
                    "Landing Page Submission": (16, "25.0% (10.2–49.5)"), "Lead Add Form": (4, "0.0% (0.0–49.0)")}


@pytest.mark.parametrize("page", ["matrix", "routing"])
def test_fit_intent_and_routing_say_what_is_true_without_dates(undated_store, tmp_path, monkeypatch, page):
    """No "90 days before the as-of date", no conversion window, no replay of past weeks: without dates there
    is no as-of date, no activity to give intent, nothing to replay."""
    at = opened_page(undated_store, tmp_path, monkeypatch, page)
    said = " ".join([c.value for c in at.main.caption] + infos(at))
    assert "No dates in this database" in said or "this database has no dates" in said
    assert "days before the as-of date" not in said and "within the conversion window" not in said
    assert not any(str(days) in said for days in (90, 180)), said
    if page == "matrix":
        assert "every lead's intent is 0" in said
        assert "Do the scores predict conversion here?" in [s.value for s in at.subheader]
        assert "Criteria of the ideal customer profiles" not in [t.value for t in at.text], "no check dated from today"
    else:
        assert not [s for s in at.slider if s.key == "routing_weeks"], "no weeks to replay without dates"
