"""Every page runs under Streamlit's AppTest, on an empty store and on the sample."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from funnel.store.db import connect
from tests.apptest import app, copied

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "pages").glob("*.py")
               if p.name != "__init__.py")


@pytest.fixture(scope="module")
def sample_db(bundled_sample, tmp_path_factory) -> Path:
    """A store holding the bundled sample, loaded the way `make run` loads it."""
    return copied(bundled_sample, tmp_path_factory.mktemp("app") / "sample.duckdb")


@pytest.mark.parametrize("page", PAGES)
def test_every_page_explains_an_empty_store(page, tmp_path, monkeypatch):
    at = app(tmp_path / "empty.duckdb", monkeypatch, sample=False)
    at.run()
    at.switch_page(page).run()
    assert not at.exception
    if page not in ("pages/data.py", "pages/rules.py"):
        assert any("import" in i.value.lower() for i in at.info)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_the_sample(page, sample_db, monkeypatch):
    at = app(sample_db, monkeypatch, sample=False)
    at.run()
    at.switch_page(page).run()
    assert not at.exception


def test_first_start_loads_the_sample_with_a_notice(tmp_path, monkeypatch):
    at = app(tmp_path / "first.duckdb", monkeypatch, sample=True)
    at.run()
    assert not at.exception
    assert any("sample" in c.value for c in at.sidebar.caption)


def history_frame(at):
    """The Data page's import history table (the people-across-tools tables follow it)."""
    return next(d.value for d in at.dataframe if {"import_id", "removed_at"} <= set(d.value.columns))


def test_data_page_lists_tables_and_history(sample_db, monkeypatch):
    at = app(sample_db, monkeypatch, sample=False)
    at.run()
    at.switch_page("pages/data.py").run()
    inventory = at.dataframe[0].value
    assert set(inventory["table"]) >= {"leads", "activities", "deals"}
    assert int(inventory.loc[inventory["table"] == "leads", "rows"].iloc[0]) == 3000
    history = history_frame(at)
    assert len(history) == 5 and set(history["mapping"]) == {"sample data"}


def test_removing_an_import_from_the_data_page(tmp_path, monkeypatch):
    at = app(tmp_path / "remove.duckdb", monkeypatch, sample=True)
    at.run()
    at.switch_page("pages/data.py").run()
    at.selectbox(key="remove_choice").select(5)
    at.button(key="remove_button").click()
    at.run()
    assert not at.exception
    history = history_frame(at)
    assert history.loc[history["import_id"] == 5, "removed_at"].notna().all()


def test_the_sidebar_lists_the_data_folder_and_an_admin_creates_a_database_by_name(sample_db, tmp_path, monkeypatch):
    db = copied(sample_db, tmp_path / "main.duckdb")
    at = app(db, monkeypatch, sample=False)
    at.run()
    assert at.sidebar.selectbox(key="db").options == ["main"]
    assert any("3,000" in t.value or "39," in t.value for t in at.sidebar.text)
    for bad in ("../escape", "/tmp/x", "a b", ""):
        at.sidebar.text_input(key="new_db_name").input(bad).run()
        at.sidebar.button(key="create_db").click().run()
        assert not at.exception
        assert any("letters, digits" in t.value for t in at.sidebar.text)
    at.sidebar.text_input(key="new_db_name").input("emea-2026").run()
    at.sidebar.button(key="create_db").click().run()
    assert not at.exception
    assert sorted(p.name for p in tmp_path.glob("*.duckdb")) == ["emea-2026.duckdb", "main.duckdb"]
    assert at.sidebar.selectbox(key="db").value == "emea-2026"
    assert at.query_params.get("db") == "emea-2026"
    assert any("No data yet" in c.value for c in at.sidebar.caption)


def test_the_database_in_view_comes_from_the_link_by_name_only(sample_db, tmp_path, monkeypatch):
    db = copied(sample_db, tmp_path / "main.duckdb")
    connect(tmp_path / "second.duckdb").close()
    at = app(db, monkeypatch, sample=False)
    at.query_params["db"] = "second"
    at.run()
    assert at.sidebar.selectbox(key="db").value == "second"
    assert any("No data yet" in c.value for c in at.sidebar.caption)
    for path in (str(tmp_path / "x.duckdb"), "../main", "/etc/passwd"):
        at = app(db, monkeypatch, sample=False)
        at.query_params["db"] = path
        at.run()
        assert not at.exception
        assert at.sidebar.selectbox(key="db").value == "main"
    assert sorted(p.name for p in tmp_path.glob("*.duckdb")) == ["main.duckdb", "second.duckdb"]


UI_FILES = sorted((ROOT / "pages").rglob("*.py"))


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_pages_run_no_sql_and_find_no_function_by_name(path):
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"\b(SELECT|INSERT|UPDATE|DELETE)\s", text), "SQL belongs in funnel/store"
    assert ".execute(" not in text and "__import__(" not in text and "getattr(__import__" not in text


@pytest.mark.parametrize("page", PAGES)
def test_every_page_stays_thin(page):
    assert len((ROOT / page).read_text(encoding="utf-8").splitlines()) <= 120
