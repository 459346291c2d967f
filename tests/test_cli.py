"""Tests for the `funnel` command: sample → import → info, and one clear line (exit 2) on a user error."""

from __future__ import annotations

import re
import subprocess
import sys

import polars as pl
import pytest

from funnel.cli.main import main

TABLES = ("leads", "accounts", "activities", "stage_events", "deals")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(code: int, out: str, err: str, *, command: str) -> str:
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith(f"funnel {command}: ") and "Traceback" not in err
    return err.strip()


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """A sample of 200 leads written by `funnel sample` and loaded by one `funnel import`."""
    folder = tmp_path_factory.mktemp("cli")
    out, db = folder / "sample", folder / "funnel.duckdb"
    assert main(["sample", "--leads", "200", "--out", str(out)]) == 0
    files = sorted(out.glob("*.csv"))
    assert {f.stem for f in files} == set(TABLES)
    assert main(["import", "--db", str(db), *map(str, files)]) == 0
    return out, db, files


def info_counts(text: str) -> dict[str, int]:
    counts = {}
    for line in text.splitlines():
        match = re.match(r"^(\w+)\s+(\d+)\s", line)
        if match:
            counts[match.group(1)] = int(match.group(2))
    return counts


def test_sample_import_info_shows_the_row_counts(imported, capsys):
    _, db, files = imported
    code, text, err = run(capsys, "info", "--db", str(db))
    assert code == 0 and err == ""
    counts = info_counts(text)
    for file in files:
        assert counts[file.stem] == pl.read_csv(file, infer_schema=False).height, file.stem
    assert counts["leads"] == 200 and counts["intent_signals"] == 0
    assert "imports: 5" in text
    for file in files:
        assert re.search(rf"#\d+ {re.escape(file.name)} → {file.stem}: \d+ rows, \d+ added, 0 updated \(active",
                         text), file.name


def test_importing_the_same_file_again_changes_nothing(imported, capsys):
    _, db, files = imported
    code, text, err = run(capsys, "import", "--db", str(db), str(files[0]))
    assert code == 0 and err == ""
    assert text.strip() == f"{files[0].name}: identical to import #1; nothing changed"
    code, info, _ = run(capsys, "info", "--db", str(db))
    assert "imports: 5" in info


def test_sample_prints_the_files_it_wrote(tmp_path, capsys):
    code, text, err = run(capsys, "sample", "--leads", "20", "--out", str(tmp_path), "--seed", "3")
    assert code == 0 and err == ""
    assert {line.split(":")[0] for line in text.splitlines()} == set(TABLES)
    assert all((tmp_path / f"{t}.csv").is_file() for t in TABLES)


def test_a_missing_file_is_one_line_and_exit_2(tmp_path, capsys):
    missing = tmp_path / "nope.csv"
    code, out, err = run(capsys, "import", "--db", str(tmp_path / "x.duckdb"), str(missing))
    message = assert_user_error(code, out, err, command="import")
    assert "does not exist" in message and "nope.csv" in message
    assert not (tmp_path / "x.duckdb").exists()


def test_an_unknown_table_is_one_line_and_exit_2(imported, tmp_path, capsys):
    _, _, files = imported
    code, text, err = run(capsys, "import", "--db", str(tmp_path / "x.duckdb"), "--table", "nosuch", str(files[0]))
    message = assert_user_error(code, text, err, command="import")
    assert "nosuch" in message and "leads" in message  # names the tables there are
    assert not (tmp_path / "x.duckdb").exists()


def test_info_without_a_database_is_one_line_and_exit_2(tmp_path, capsys):
    code, out, err = run(capsys, "info", "--db", str(tmp_path / "none.duckdb"))
    assert "does not exist" in assert_user_error(code, out, err, command="info")


def test_sample_with_no_leads_is_refused(tmp_path, capsys):
    code, out, err = run(capsys, "sample", "--leads", "0", "--out", str(tmp_path / "s"))
    assert "--leads" in assert_user_error(code, out, err, command="sample")


def test_a_bad_settings_file_is_one_line_and_exit_2(imported, tmp_path, capsys):
    _, _, files = imported
    settings = tmp_path / "funnel.toml"
    settings.write_text("[conversion]\nwindow_days = 0\n", encoding="utf-8")
    code, out, err = run(capsys, "import", "--db", str(tmp_path / "x.duckdb"), "--config", str(settings),
                         str(files[0]))
    assert "conversion.window_days" in assert_user_error(code, out, err, command="import")


def test_a_bad_mapping_file_is_one_line_and_exit_2(imported, tmp_path, capsys):
    _, _, files = imported
    mapping = tmp_path / "map.toml"
    mapping.write_text('[[file]]\ntable = "leads"\n[file.columns]\nid = "nosuch"\n', encoding="utf-8")
    code, out, err = run(capsys, "import", "--db", str(tmp_path / "x.duckdb"), "--mapping", str(mapping),
                         str(files[0]))
    assert "nosuch" in assert_user_error(code, out, err, command="import")


def test_a_database_in_use_by_another_process_is_one_line_and_exit_2(imported, capsys):
    _, db, files = imported
    hold = ("import sys, duckdb; con = duckdb.connect(sys.argv[1]); "
            "print('open', flush=True); sys.stdin.read()")
    holder = subprocess.Popen([sys.executable, "-c", hold, str(db)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        code, out, err = run(capsys, "import", "--db", str(db), str(files[0]))
    finally:
        holder.communicate("", timeout=30)
    message = assert_user_error(code, out, err, command="import")
    assert "in use" in message
