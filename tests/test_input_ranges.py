"""No tracebacks from out-of-range input: dates outside 1900–2200 on every entry point, settings that
are NaN/inf, nested too deeply or too large, and CLI numbers beyond what the settings allow."""

from __future__ import annotations

from datetime import date

import pytest

from funnel.cli.main import main
from funnel.config import (
    MAX_SETTINGS_CHARS,
    MAX_SETTINGS_DEPTH,
    MAX_WINDOW_DAYS,
    default_settings,
    settings_from_text,
)
from funnel.errors import ConfigError, FunnelError, ValidationError
from funnel.filters import FIRST_DAY, LAST_DAY, Filters, checked_day
from funnel.ingest.importer import canonical_import
from funnel.ingest.mapping import identity_section


def cli_refuses(capsys, *args: str) -> str:
    with pytest.raises(SystemExit) as caught:
        main(list(args))
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1899-12-31", "2201-01-01"])
def test_cli_dates_outside_the_range_are_refused(capsys, day, tmp_path):
    for option in ("--as-of", "--from", "--to"):
        err = cli_refuses(capsys, "metrics", "--db", str(tmp_path / "x.duckdb"), option, day)
        assert f"'{day}' is outside the years 1900–2200" in err
    err = cli_refuses(capsys, "leads", "--db", str(tmp_path / "x.duckdb"), "--format", "csv", "--as-of", day)
    assert "outside the years" in err


@pytest.mark.parametrize("value", ["99999999999999999999", "0", "-5", str(MAX_WINDOW_DAYS + 1), "ten"])
def test_cli_window_days_are_range_checked_like_the_settings(capsys, value, tmp_path):
    err = cli_refuses(capsys, "metrics", "--db", str(tmp_path / "x.duckdb"), "--window-days", value)
    assert "--window-days" in err and ("between 1 and 3,650" in err or "not a whole number" in err)


def test_cli_sample_numbers_are_range_checked(capsys, tmp_path):
    assert main(["sample", "--out", str(tmp_path), "--leads", "10" * 12]) == 2
    assert "between 1 and 50,000,000" in capsys.readouterr().err
    assert "between 0 and" in cli_refuses(capsys, "sample", "--out", str(tmp_path), "--seed", "-1")


def test_filters_refuse_days_outside_the_range():
    assert checked_day(FIRST_DAY) == FIRST_DAY and checked_day(LAST_DAY) == LAST_DAY
    for kwargs in ({"as_of": date(9999, 12, 31)}, {"as_of": date(2024, 1, 1), "period_start": date(1, 1, 1)},
                   {"as_of": date(2024, 1, 1), "period_end": date(2999, 1, 1)}):
        with pytest.raises(FunnelError) as caught:
            Filters(**kwargs)
        assert "outside the years 1900–2200" in caught.value.reason


def test_imported_dates_outside_the_range_are_cell_errors():
    import polars as pl

    frame = pl.DataFrame({"lead_id": ["L-1", "L-2"], "created_at": ["2024-01-05", "9999-12-31"],
                          "_source_row": [2, 3]})
    with pytest.raises(ValidationError) as caught:
        canonical_import(frame, identity_section("leads"), file_name="leads.csv", settings=default_settings())
    assert (caught.value.row, caught.value.column, caught.value.value) == (3, "created_at", "9999-12-31")
    assert "1900" in caught.value.hint and "2200" in caught.value.hint


@pytest.mark.parametrize("text", ["[intent]\nhalf_life_days = nan", "[intent]\nhalf_life_days = inf",
                                  "[intent]\nhigh_threshold = -inf", "[segments]\nalpha = nan"])
def test_nan_and_inf_settings_are_refused(text):
    with pytest.raises(ConfigError) as caught:
        settings_from_text(text)
    assert "finite" in caught.value.reason


@pytest.mark.parametrize("text", ["x = " + "[" * 5000 + "]" * 5000, "x = " + "{ a = " * 3000 + "1" + " }" * 3000,
                                  "x = " + "[" * (MAX_SETTINGS_DEPTH + 1) + "1" + "]" * (MAX_SETTINGS_DEPTH + 1),
                                  "[" + ".".join(["a"] * 40) + "]\nb = 1"])
def test_deeply_nested_settings_are_refused_without_recursion_error(text):
    with pytest.raises(ConfigError) as caught:
        settings_from_text(text)
    assert "nest deeper" in caught.value.reason


def test_huge_settings_are_refused_before_parsing():
    with pytest.raises(ConfigError) as caught:
        settings_from_text("# " + "x" * MAX_SETTINGS_CHARS)
    assert "KiB" in caught.value.reason


def test_the_sidebar_dates_are_bounded(tmp_path, monkeypatch):
    """A shared link with ?as_of=9999-12-31 or a typed far date never reaches the analyses."""
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from funnel.ingest.importer import import_paths
    from funnel.ingest.sample import write_sample
    from funnel.model.identity import rebuild_identity
    from funnel.store.db import connect

    files = write_sample(tmp_path / "sample", leads=60)
    con = connect(tmp_path / "f.duckdb")
    import_paths(con, [files[t] for t in ("leads", "stage_events")])
    rebuild_identity(con)
    con.close()
    monkeypatch.setenv("FUNNEL_DB", str(tmp_path / "f.duckdb"))
    monkeypatch.setenv("FUNNEL_LOAD_SAMPLE", "0")
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=90)
    at.run()
    assert not at.exception
    widget = at.date_input(key="as_of")
    assert widget.min == FIRST_DAY and widget.max == LAST_DAY
