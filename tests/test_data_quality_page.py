"""The Data quality page and the `funnel hygiene` / `funnel capture` commands on the sample."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from pathlib import Path

import pytest

from funnel.cli.main import main
from funnel.display.labels import value_label
from tests.apptest import app, copied


@pytest.fixture(scope="module")
def sample_db(bundled_sample, tmp_path_factory) -> Path:
    return copied(bundled_sample, tmp_path_factory.mktemp("dq") / "sample.duckdb")


@pytest.fixture(scope="module")
def cli_db(tmp_path_factory) -> Path:
    """A store of its own (the page's test holds the other one open in this process)."""
    folder = tmp_path_factory.mktemp("dq_cli")
    assert main(["sample", "--leads", "1500", "--out", str(folder / "s")]) == 0
    assert main(["import", "--db", str(folder / "db.duckdb"), *map(str, sorted((folder / "s").glob("*.csv")))]) == 0
    return folder / "db.duckdb"


def test_the_page_recomputes_for_another_survivor_rule_and_crm(sample_db, monkeypatch):
    at = app(sample_db, monkeypatch, sample=False)
    at.run()
    at.switch_page("pages/data_quality.py").run()
    assert not at.exception
    at.selectbox(key="dq_survivor").set_value("most_complete").run()
    at.selectbox(key="dq_crm").set_value("salesforce").run()
    at.selectbox(key="dq_entry").set_value("campaign").run()
    assert not at.exception
    assert any("records to update" in t.value for t in at.text)
    # the sample is one import of each table: no lead can be followed over time, and the page says so
    assert any("only one import of the leads table" in c.value for c in at.caption)


def test_another_entry_point_regroups_the_fill_rates_without_reading_the_capture_audit_again(sample_db, tmp_path,
                                                                                              monkeypatch):
    from funnel.analyses import capture

    reads = []
    for name in ("capture_frame", "capture_audit"):
        monkeypatch.setattr(capture, name, counted(getattr(capture, name), reads, name))
    at = app(copied(sample_db, tmp_path / "own.duckdb"), monkeypatch, sample=False)  # caches of its own
    at.run()
    at.switch_page("pages/data_quality.py").run()
    first = list(reads)
    tables = {}
    for entry in ("campaign", "url", "source"):
        at.selectbox(key="dq_entry").set_value(entry).run()
        assert not at.exception
        tables[entry] = next(d.value for d in at.dataframe if "fill_rate" in d.value.columns)
    assert reads == first and sorted(first) == ["capture_audit", "capture_frame"]
    assert [table.columns[0] for table in tables.values()] == ["campaign", "url", "source"]
    assert len({table["leads"].sum() for table in tables.values()}) == 1  # the same leads, grouped otherwise


def test_moving_the_as_of_date_within_a_month_computes_the_hygiene_flags_of_that_day_alone(sample_db, tmp_path,
                                                                                          monkeypatch):
    from funnel.analyses import hygiene

    asked = []
    monkeypatch.setattr(hygiene, "hygiene_flags", counted(hygiene.hygiene_flags, asked, "days"))
    at = app(copied(sample_db, tmp_path / "own.duckdb"), monkeypatch, sample=False)
    at.run()
    at.switch_page("pages/handoff.py").run()
    day = at.date_input(key="as_of").value
    for moved in (day - timedelta(days=1), day - timedelta(days=2), day):
        at.date_input(key="as_of").set_value(moved).run()
        assert not at.exception
    at.switch_page("pages/data_quality.py").run()
    assert not at.exception
    assert asked == [("days", [date(2026, 9, 30), day]), ("days", [day - timedelta(days=1)]),
                     ("days", [day - timedelta(days=2)])]  # the month end before and D kept, whatever the page


def test_sessions_asking_for_the_same_days_at_once_compute_them_once(sample_db, tmp_path, monkeypatch):
    import threading
    import time

    from funnel.analyses import hygiene
    from pages.ui import cache
    from pages.ui.store import StoreKey

    asked = []
    real = hygiene.hygiene_flags

    def slow(*args, **kwargs):
        time.sleep(0.3)  # long enough for every session to ask while the first computes
        return counted(real, asked, "days")(*args, **kwargs)

    monkeypatch.setattr(hygiene, "hygiene_flags", slow)
    at = StoreKey(str(copied(sample_db, tmp_path / "own.duckdb")), (1, 0), "")
    day = date(2026, 10, 20)
    results = []
    sessions = [threading.Thread(target=lambda: results.append(cache._hygiene_flags(at, day))) for _ in range(4)]
    for session in sessions:
        session.start()
    for session in sessions:
        session.join()
    assert asked == [("days", [date(2026, 9, 30), day])]
    assert len(results) == 4 and all(r[day] is results[0][day] for r in results)  # one frame, shared
    for back in range(1, 6):  # four days kept: the least recently used goes first, the month end stays
        cache._hygiene_flags(at, day - timedelta(days=back))
    assert sorted(cache._flag_days(at).kept) == [date(2026, 9, 30), *(day - timedelta(days=b) for b in (5, 4, 3))]


def counted(function, calls: list, name: str):
    def call(*args, **kwargs):
        calls.append((name, sorted(kwargs["days"])) if name == "days" else name)
        return function(*args, **kwargs)
    return call


def test_the_hygiene_table_lists_the_crm_audit_beside_the_exact_checks(sample_db, monkeypatch):
    at = app(sample_db, monkeypatch, sample=False)
    at.run()
    at.switch_page("pages/handoff.py").run()
    assert not at.exception
    table = next(d.value for d in at.dataframe if "check" in d.value.columns and "what_to_do" in d.value.columns)
    checks = ("probable_duplicate", "duplicate_company", "non_standard_fields", "no_owner")
    assert {value_label(c) for c in checks} <= set(table["check"])  # shown through the label table
    assert {"month_before", "change"} <= set(table.columns)


def test_hygiene_command_prints_counts_and_writes_the_files(cli_db, tmp_path, capsys):
    code = main(["hygiene", "--db", str(cli_db), "--out", str(tmp_path), "--survivor", "most_complete"])
    out = capsys.readouterr().out
    assert code == 0
    assert "duplicate person pairs:" in out and "a month before" in out
    assert "no_owner:" in out
    assert "probable_duplicate:" in out and "duplicate_company:" in out and "non_standard_fields:" in out
    checks = list(csv.DictReader(io.StringIO((tmp_path / "hygiene_checks.csv").read_text(encoding="utf-8-sig"))))
    assert [c["kind"] for c in checks].count("fuzzy") == 3
    assert all(int(c["change"]) == int(c["leads"]) - int(c["month_before"]) for c in checks)
    for name in ("person_pairs", "person_merges", "company_pairs", "lead_findings", "leads_fix_hubspot",
                 "accounts_fix_hubspot"):
        assert (tmp_path / f"{name}.csv").is_file()
    pairs = list(csv.DictReader(io.StringIO((tmp_path / "person_pairs.csv").read_text(encoding="utf-8-sig"))))
    assert pairs and all(float(p["match_probability"]) >= 0.9 and p["evidence"] for p in pairs)


@pytest.mark.parametrize("section", ["fill", "age", "forms", "lift"])
def test_capture_command_writes_each_section_as_csv(cli_db, capsysbinary, section):
    capsysbinary.readouterr()
    assert main(["capture", "--db", str(cli_db), "--section", section]) == 0
    captured = capsysbinary.readouterr()
    rows = list(csv.reader(io.StringIO(captured.out.decode("utf-8-sig"))))
    assert len(rows) > 1
    if section == "age":  # one import of the sample: the cross-section, and a note saying why
        assert rows[0][:3] == ["view", "age", "field"] and {r[0] for r in rows[1:]} == {"leads of each age at D"}
        assert "only one import of the leads table" in captured.err.decode()


def test_hygiene_with_a_bad_threshold_is_one_line_and_exit_2(cli_db, capsys):
    assert main(["hygiene", "--db", str(cli_db), "--threshold", "1.5"]) == 2
    err = capsys.readouterr().err
    assert "threshold" in err and "Traceback" not in err
