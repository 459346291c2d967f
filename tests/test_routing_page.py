"""The Routing page under AppTest: lint beside the rules with the leads behind a finding, the what-if of
an edit, tracks, alerts and the tool exports."""

from __future__ import annotations

from pathlib import Path

import pytest

from funnel.config import default_routing_text
from tests.apptest import app, copied


def frame_with(at, column: str):
    """The first table on the page with `column` (tables without selection carry no key under AppTest)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


@pytest.fixture(scope="module")
def sample_db(bundled_sample, tmp_path_factory) -> Path:
    return copied(bundled_sample, tmp_path_factory.mktemp("routing_page") / "sample.duckdb")


def test_the_routing_page_lints_replays_an_edit_and_exports(sample_db, monkeypatch):
    at = app(sample_db, monkeypatch, sample=False)
    at.run()
    at.switch_page("pages/routing.py").run()
    assert not at.exception
    rules = frame_with(at, "wins")
    assert "SDR task: high fit at intent" in list(rules["rule"])
    findings = at.dataframe(key="routing_findings").value
    assert "rule never wins" in set(findings["kind"])
    preview = frame_with(at, "Record ID")
    assert list(preview.columns)[:2] == ["Record ID", "Email"]
    at.selectbox(key="routing_x_tool").set_value("mailchimp").run()
    assert not at.exception
    assert list(frame_with(at, "Email Address").columns) == [
        "Email Address", "First Name", "Last Name", "Tags"]
    edited = default_routing_text().replace('capacity = 80', 'capacity = 5')
    at.text_area(key="routing_edit").set_value(edited).run()
    assert not at.exception
    kinds = set(at.dataframe(key="routing_findings").value["kind"])
    assert "owner at capacity" in kinds
    weekly = frame_with(at, "received")
    assert set(weekly["settings"]) == {"current", "proposed"}


def test_an_invalid_routing_edit_is_named_not_raised(sample_db, monkeypatch):
    at = app(sample_db, monkeypatch, sample=False)
    at.run()
    at.switch_page("pages/routing.py").run()
    at.text_area(key="routing_edit").set_value('[routing]\n[[routing.rules]]\nname = "x"\nteam = "SDR"\n').run()
    assert not at.exception
    assert any("routing" in e.value.lower() for e in at.error)
    assert any("action" in t.value for t in at.text)


def test_the_page_starts_from_the_routing_saved_on_the_rules_page(bundled_sample, tmp_path, monkeypatch):
    """A team that saved its own routing (here: Christmas Eve off and one alert of its own) sees that routing in the
    edit box, checked as the rules in force, not the packaged rules."""
    from funnel.store import settings_versions
    from funnel.store.db import connect

    db = copied(bundled_sample, tmp_path / "custom.duckdb")
    saved = ('[routing]\nholidays = ["2026-12-24"]\n\n[[routing.alerts]]\nname = "Demo asked"\nkind = "activity"\n'
             'activity_types = ["demo_request"]\n')
    con = connect(db)
    settings_versions.save_version(con, saved, note="our routing")
    con.close()
    at = app(db, monkeypatch, sample=False)
    at.switch_page("pages/routing.py").run()
    assert not at.exception
    edit = at.text_area(key="routing_edit").value
    assert "Demo asked" in edit and "2026-12-24" in edit and "SDR task over its SLA" not in edit
    assert "sdr.ana@acme.test" in edit  # the packaged owners, which the saved text left as they are
    assert any("Change the rules above" in c.value for c in at.caption)  # the edit is the rules in force
