"""`funnel metrics` on a small generated sample: one JSON object of the documented shape, or one CSV
table with a section column; user mistakes end in one line and exit code 2."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from funnel import schema as sc
from funnel.cli.main import main
from funnel.ingest.sample import sample_tables
from funnel.store.db import connect, quote_ident

SECTIONS = ("distribution", "conversion", "aging", "segments")


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("metrics") / "funnel.duckdb"
    con = connect(path)
    for name, frame in sample_tables(leads=400, seed=3).items():
        columns = ", ".join(quote_ident(c) for c in frame.columns)
        con.register("_rows", frame.to_arrow())
        con.execute(f"INSERT INTO {quote_ident(name)} ({columns}) SELECT {columns} FROM _rows")
        con.unregister("_rows")
    con.close()
    return path


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["metrics", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_shape(sample_db, capsys):
    code, out, _ = run(capsys, "--db", str(sample_db))
    assert code == 0
    report = json.loads(out)
    assert {"as_of", "ladder", "window_days", *SECTIONS} <= set(report)
    assert report["as_of"] == "2026-10-31" and report["ladder"] == "lifecycle" and report["window_days"] == 90
    assert [r["stage"] for r in report["distribution"]] == list(sc.LIFECYCLE_STAGES + sc.LIFECYCLE_SIDE_STAGES) + [None]
    assert all(r["segment"] is None for s in SECTIONS for r in report[s])
    assert sum(r["leads"] for r in report["distribution"]) == 400
    step = report["conversion"][0]
    assert set(step) >= {"segment", "from_stage", "to_stage", "entered", "advanced", "lost", "expired", "open", "rate"}
    for step in report["conversion"]:
        assert step["entered"] == step["advanced"] + step["lost"] + step["expired"] + step["open"]
    assert set(report["aging"][0]) >= {"segment", "stage", "leads", "median_days", "p90_days", "over_sla"}
    (whole,) = report["segments"]
    assert whole["leads"] == 400 and list(whole["reached"]) == ["mql", "sql", "opportunity", "customer"]
    assert set(whole["reached_rate"]) == set(whole["reached"]) and "win_rate" in whole


def test_json_by_segment_and_period(sample_db, capsys):
    code, out, _ = run(capsys, "--db", str(sample_db), "--by", "source", "--as-of", "2026-06-30",
                       "--from", "2026-01-01", "--to", "2026-03-31", "--window-days", "30")
    assert code == 0
    report = json.loads(out)
    assert report["as_of"] == "2026-06-30" and report["window_days"] == 30
    assert report["period"] == {"from": "2026-01-01", "to": "2026-03-31"}
    for section in SECTIONS:
        rows = report[section]
        assert rows[0]["segment"] is None
        seen = [r["segment"] for r in rows if r["segment"] is not None]
        assert seen and seen == sorted(seen)  # the whole population first, then each value in turn
    total = sum(r["leads"] for r in report["distribution"] if r["segment"] is None)
    assert sum(r["leads"] for r in report["distribution"] if r["segment"] is not None) == total


def test_csv_is_one_table_with_a_section_column(sample_db, capsys):
    code, out, _ = run(capsys, "--db", str(sample_db), "--format", "csv", "--by", "industry")
    assert code == 0
    table = list(csv.DictReader(io.StringIO(out.lstrip("\ufeff"))))
    assert {r["section"] for r in table} == set(SECTIONS)
    assert {"segment", "stage", "from_stage", "rate", "reached_customer_rate", "days_90+"} <= set(table[0])


def test_mistakes_end_in_one_line(sample_db, tmp_path, capsys):
    code, _, err = run(capsys, "--db", str(sample_db), "--by", "shoe_size")
    assert code == 2 and err.startswith("funnel metrics:") and "shoe_size" in err and err.count("\n") == 1
    empty = tmp_path / "empty.duckdb"
    connect(empty).close()
    code, _, err = run(capsys, "--db", str(empty))
    assert code == 2 and "no dated rows" in err
    code, _, err = run(capsys, "--db", str(tmp_path / "missing.duckdb"))
    assert code == 2 and "does not exist" in err


def test_the_whole_process(sample_db):
    entry = "import sys; from funnel.cli.main import main; sys.exit(main())"  # what the `funnel` script runs
    done = subprocess.run([sys.executable, "-c", entry, "metrics", "--db", str(sample_db)],
                          capture_output=True, text=True, check=True, timeout=120)
    assert json.loads(done.stdout)["distribution"][0]["stage"] == "subscriber"


def test_commands_compute_with_the_rules_saved_on_the_rules_page_unless_given_a_file(sample_db, capsys, tmp_path):
    import shutil

    from funnel.model.materialised import funnel_is_current
    from funnel.store.settings_versions import save_version, settings_in_force

    db = tmp_path / "saved.duckdb"
    shutil.copy(sample_db, db)
    edit = "[conversion]\nwindow_days = 45\n"
    con = connect(db)
    try:
        save_version(con, edit, note="a shorter window", author="lead@acme.com")
    finally:
        con.close()
    code, out, _ = run(capsys, "--db", str(db))
    assert code == 0 and json.loads(out)["window_days"] == 45  # what everyone's pages show
    given = tmp_path / "mine.toml"
    given.write_text("[conversion]\nwindow_days = 30\n")
    code, out, _ = run(capsys, "--db", str(db), "--config", str(given))
    assert code == 0 and json.loads(out)["window_days"] == 30  # a file given to the command wins
    code, out, _ = run(capsys, "--db", str(sample_db))
    assert code == 0 and json.loads(out)["window_days"] == 90  # nothing saved: the packaged defaults
    assert main(["model", "--db", str(db), "--build"]) == 0
    capsys.readouterr()
    con = connect(db, read_only=True)
    try:  # the model is built for the saved rules, the ones the pages read
        assert settings_in_force(con).source == "saved settings version 1"
        assert funnel_is_current(con, settings_in_force(con))
    finally:
        con.close()
