"""The one label table: headers, stage and code names, empty cells, and every page's tables read by people
(no snake_case header and no raw None reaches a dataframe on any page)."""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from funnel.display.labels import (
    column_label,
    column_spec,
    is_raw_name,
    readable_frame,
    stage_label,
    step_label,
    value_label,
)
from tests.apptest import app, copied

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "pages").glob("*.py") if p.name != "__init__.py")


def test_stages_and_codes_read_as_people_say_them():
    assert stage_label("mql") == "MQL" and stage_label("former_customer") == "Former customer"
    assert stage_label("awareness") == "Awareness" and stage_label("winback") == "Winback"
    assert stage_label("trial_user") == "Trial user"  # a configured stage the table does not name
    assert step_label("mql", "sql") == "MQL → SQL"
    assert value_label("high_fit_low_intent") == "High fit · low intent"
    assert value_label("case_study_view") == "Case study view"
    assert value_label("Paid search") == "Paid search"


def test_headers_come_from_the_table_then_from_patterns():
    assert column_label("leads_before") == "Leads 30 days earlier"
    assert column_label("reached_customer_rate") == "→ Customer"
    assert column_label("reached_mql") == "Reached MQL"
    assert column_label("entered_opportunity") == "Entered Opportunity"
    assert column_label("win_rate_lo") == "Win rate 95% low"
    assert column_label("reached_sql_rate_small_sample") == "→ SQL: small sample"
    assert column_label("rate_cur") == "Rate this month"
    assert column_label("lead_score_band") == "Lead score band"
    assert column_label("Record ID") == "Record ID"  # a tool's own import column stays as it is
    assert column_spec("median_days_to_customer").missing == "not reached"
    assert column_spec("share").kind == "rate" and column_spec("created_at").kind == "datetime"


def test_readable_frame_names_values_dates_and_empty_cells():
    frame = pl.DataFrame({
        "stage": ["mql", "former_customer", None],
        "quadrant": ["high_fit_high_intent", None, "low_fit_low_intent"],
        "leads": [1200, 3, 4],
        "entered_at": [datetime(2025, 2, 24), datetime(2025, 3, 1), datetime(2025, 3, 2)],
        "median_days": [12.5, None, 3.0],
        "rate": [0.25, None, 1.0],
    }, schema_overrides={"stage": pl.Enum(["mql", "former_customer"])})
    shown = readable_frame(frame)
    assert shown.columns == frame.columns
    assert shown.get_column("stage").to_list() == ["MQL", "Former customer", "(no stage yet)"]
    assert shown.get_column("quadrant").to_list() == ["High fit · high intent", "—", "Low fit · low intent"]
    assert shown.get_column("leads").to_list() == [1200, 3, 4]  # a full number column stays a number
    assert shown.schema["entered_at"] == pl.Date  # timestamps at midnight are dates
    assert shown.get_column("entered_at").to_list() == [date(2025, 2, 24), date(2025, 3, 1), date(2025, 3, 2)]
    assert shown.get_column("median_days").to_list() == ["12.5", "not reached", "3"]
    assert shown.get_column("rate").to_list() == ["25.0%", "—", "100.0%"]


def test_times_of_day_are_kept_and_an_empty_date_says_so():
    frame = pl.DataFrame({"mql_at": [datetime(2025, 2, 24, 9, 30), None],
                          "first_touch_at": [None, datetime(2025, 2, 25)]})
    shown = readable_frame(frame)
    assert shown.get_column("mql_at").to_list() == ["2025-02-24 09:30", "—"]
    assert shown.get_column("first_touch_at").to_list() == ["not touched", "2025-02-25"]


@pytest.fixture(scope="module")
def sample_db(bundled_sample, tmp_path_factory) -> Path:
    return copied(bundled_sample, tmp_path_factory.mktemp("labels") / "sample.duckdb")


def shown_headers(element) -> list[str]:
    """The headers a person sees: each visible column's configured label, else its name."""
    config = json.loads(element.proto.columns) if element.proto.columns else {}
    order = list(element.proto.column_order) or list(element.value.columns)
    headers = []
    for column in order:
        settings = config.get(str(column)) or {}
        if settings.get("hidden"):
            continue
        headers.append(settings.get("label") or str(column))
    return headers


def empty_cells(frame) -> list[str]:
    """The columns holding a cell the grid would draw as "None" (a null, NaN or NaT). A value that is the
    word itself (a routing team may be named "None") is data, not an empty cell."""
    return [str(c) for c in frame.columns if bool(frame[c].isna().to_numpy().any())
            or (frame[c].dtype == object
                and bool(frame[c].map(lambda v: isinstance(v, float) and math.isnan(v)).to_numpy().any()))]


@pytest.mark.parametrize("page", PAGES)
def test_no_raw_name_or_none_reaches_a_page(page, sample_db, monkeypatch):
    at = app(sample_db, monkeypatch, sample=False)
    at.run()
    at.switch_page(page).run()
    if page == "pages/lead.py":
        at.text_input(key="lead_q").input("L00001").run()
    assert not at.exception
    for element in at.dataframe:
        headers = shown_headers(element)
        assert not [h for h in headers if is_raw_name(h)], (page, headers)
        assert empty_cells(element.value) == [], (page, headers)


def test_the_lead_card_reads_in_words():
    from funnel.display.lead import readable_card

    card = readable_card({"funnel_stage": "reactivation", "lifecycle_stage": "mql", "quadrant": "high_fit_low_intent",
                          "stage_entered_at": datetime(2025, 2, 24), "next_action_due": date(2025, 3, 3)})
    values = dict(card.iter_rows())
    assert values["funnel stage"] == "Reactivation" and values["lifecycle stage"] == "MQL"
    assert values["quadrant"] == "High fit · low intent"
    assert values["since"] == "2025-02-24" and values["due"] == "2025-03-03"
