"""The lead model as the pages use it: the Data page shows it and builds it for admins, an analysis page says
when it computes from the tables instead, saving settings builds the model for them, and after a removal no
page shows numbers from the model of the data before."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from funnel.config import settings_from_text
from funnel.model import materialised
from funnel.schema import FUNNEL
from funnel.store.db import connect
from funnel.store.settings_versions import save_version
from pages.ui.store import store as cached_store
from tests.apptest import app, copied

NOTE = "Computed from the tables: slower until the lead model is built — Data page."
FUNNEL_EDIT = "[funnel_rules]\nreactivation_after_days = 60\n"


@pytest.fixture(scope="module")
def sample_db(bundled_sample, tmp_path_factory) -> Path:
    return copied(bundled_sample, tmp_path_factory.mktemp("model") / "sample.duckdb")


def shared(db: Path):
    """A cursor of the connection the app under test holds (one DuckDB instance per file and process)."""
    return cached_store(str(db)).cursor()


def on_page(at: AppTest, page: str) -> AppTest:
    at.switch_page(page).run()
    assert not at.exception
    return at


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def saved_without_model(db: Path, text: str) -> None:
    """A settings version saved the way a script or an old dashboard would: without building the model."""
    con = connect(db)
    try:
        save_version(con, text, note="by hand")
    finally:
        con.close()


def test_a_store_with_its_model_built_shows_it_on_the_data_page_and_no_note_on_the_pages(sample_db, tmp_path,
                                                                                       monkeypatch):
    at = app(copied(sample_db, tmp_path / "built.duckdb"), monkeypatch, sample=False)
    at.run()
    on_page(at, "pages/data.py")
    parts = next(d.value for d in at.dataframe if "built_for" in d.value.columns)
    assert set(parts["built_for"]) <= {"the saved settings", "the data, whatever the settings"}
    assert (parts["rows"] > 0).all()
    assert not [b for b in at.button if b.key == "build_model"] and not at.warning
    assert NOTE not in captions(on_page(at, "pages/overview.py"))


def test_settings_saved_without_the_model_say_so_and_an_admin_builds_it_from_the_data_page(sample_db, tmp_path,
                                                                                         monkeypatch):
    db = copied(sample_db, tmp_path / "unbuilt.duckdb")
    saved_without_model(db, FUNNEL_EDIT)
    at = app(db, monkeypatch, sample=False)
    at.run()
    assert NOTE in captions(on_page(at, "pages/overview.py"))
    assert NOTE in captions(on_page(at, "pages/conversion.py"))
    on_page(at, "pages/data.py")
    parts = next(d.value for d in at.dataframe if "built_for" in d.value.columns)
    assert "earlier settings" in set(parts["built_for"])
    assert next(w.value for w in at.warning).startswith("The lead model is not built for the saved settings")
    at.button(key="build_model").click().run()
    assert not at.exception and not at.warning
    with shared(db) as con:
        assert materialised.funnel_is_current(con, settings_from_text(FUNNEL_EDIT))
    assert NOTE not in captions(on_page(at, "pages/overview.py"))


def test_saving_a_version_on_the_rules_page_builds_the_model_for_it(sample_db, tmp_path, monkeypatch):
    db = copied(sample_db, tmp_path / "rules.duckdb")
    at = app(db, monkeypatch, sample=False)
    at.run()
    on_page(at, "pages/rules.py")
    at.text_area(key="rules_text").set_value(FUNNEL_EDIT).run()
    at.text_input(key="rules_note").set_value("sooner reactivation")
    at.button(key="rules_save").click().run()
    assert not at.exception
    with shared(db) as con:
        assert materialised.funnel_is_current(con, settings_from_text(FUNNEL_EDIT))
        assert materialised.identity_is_current(con, settings_from_text(FUNNEL_EDIT))
    assert NOTE not in captions(on_page(at, "pages/overview.py"))


def test_a_person_previewing_a_draft_the_model_is_not_built_for_sees_the_note(sample_db, tmp_path, monkeypatch):
    at = app(copied(sample_db, tmp_path / "draft.duckdb"), monkeypatch, sample=False)
    at.run()
    on_page(at, "pages/rules.py")
    at.text_area(key="rules_text").set_value(FUNNEL_EDIT).run()
    at.button(key="rules_draft").click().run()
    at.sidebar.toggle(key="use_draft").set_value(True).run()
    assert NOTE in captions(on_page(at, "pages/overview.py"))
    on_page(at, "pages/data.py")
    assert any("not for your draft" in c for c in captions(at))
    at.sidebar.toggle(key="use_draft").set_value(False).run()
    assert NOTE not in captions(on_page(at, "pages/overview.py"))


def funnel_tables(at: AppTest) -> list:
    return [d.value.reset_index(drop=True) for d in at.dataframe]


def test_after_a_removal_the_pages_show_the_numbers_of_the_data_as_it_is(sample_db, tmp_path, monkeypatch):
    db = copied(sample_db, tmp_path / "removal.duckdb")
    at = app(db, monkeypatch, sample=False)
    at.run()
    at.sidebar.segmented_control(key="ladder").set_value(FUNNEL).run()
    before = funnel_tables(on_page(at, "pages/overview.py"))
    on_page(at, "pages/data.py")
    at.selectbox(key="remove_choice").select(3)
    at.button(key="remove_button").click().run()
    assert not at.exception
    with shared(db) as con:
        assert materialised.funnel_is_current(con, settings_from_text(""))
    after = funnel_tables(on_page(at, "pages/overview.py"))
    assert NOTE not in captions(at)
    assert any(not a.equals(b) for a, b in zip(after, before))  # the removal changed what the page shows

    # the same page on a copy of the store with no model at all computes every number from the tables
    cached_store.clear()
    fresh_db = copied(db, tmp_path / "fresh.duckdb")
    con = connect(fresh_db)
    try:
        materialised.clear_model(con, identity_for=settings_from_text(""), rows=0, seconds=0.0)
    finally:
        con.close()
    fresh = app(fresh_db, monkeypatch, sample=False)
    fresh.run()
    fresh.sidebar.segmented_control(key="ladder").set_value(FUNNEL).run()
    computed = funnel_tables(on_page(fresh, "pages/overview.py"))
    assert NOTE in captions(fresh)
    assert len(computed) == len(after) and all(a.equals(b) for a, b in zip(after, computed))


def test_a_removal_while_previewing_a_draft_rebuilds_the_model_for_the_saved_settings(sample_db, tmp_path,
                                                                                     monkeypatch):
    db = copied(sample_db, tmp_path / "draft_removal.duckdb")
    at = app(db, monkeypatch, sample=False)
    at.run()
    on_page(at, "pages/rules.py")
    at.text_area(key="rules_text").set_value(FUNNEL_EDIT).run()
    at.button(key="rules_draft").click().run()
    at.sidebar.toggle(key="use_draft").set_value(True).run()
    on_page(at, "pages/data.py")
    at.selectbox(key="remove_choice").select(3)
    at.button(key="remove_button").click().run()
    assert not at.exception
    with shared(db) as con:  # everyone's pages read the saved settings: the draft only previews
        assert materialised.funnel_is_current(con, settings_from_text(""))
        assert not materialised.funnel_is_current(con, settings_from_text(FUNNEL_EDIT))


def page_tables_at(db, monkeypatch, page: str, ladder: str, day) -> list:
    """The tables of `page` on `ladder` at the as-of date `day`, every cache emptied first."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    at = app(db, monkeypatch, sample=False)
    at.run()
    at.sidebar.segmented_control(key="ladder").set_value(ladder).run()
    on_page(at, page)
    at.sidebar.date_input(key="as_of").set_value(day).run()
    at.run()  # AppTest applies a date bound to the query string on the run after the one it was set in
    assert not at.exception
    return funnel_tables(at)


@pytest.mark.parametrize("ladder", ["lifecycle", FUNNEL])
def test_an_earlier_date_shows_the_history_at_the_newest_day_cut_at_it_as_if_read_at_that_day(sample_db, tmp_path,
                                                                                              monkeypatch, ladder):
    """The pages cut one history at the store's newest day at each as-of date instead of reading the ladder
    again: Overview, Distribution, Aging and Conversion show at 2026-06-30 the tables they show when the history is read
    at that day (the store's newest day hidden from the cache)."""
    from datetime import date

    import pages.ui.cache as page_cache

    db = copied(sample_db, tmp_path / "cut.duckdb")
    for page in ("pages/overview.py", "pages/distribution.py", "pages/aging.py", "pages/conversion.py"):
        cut = page_tables_at(db, monkeypatch, page, ladder, date(2026, 6, 30))
        with monkeypatch.context() as patched:
            patched.setattr(page_cache, "_newest_day", lambda at: None)  # every history read at its own day
            read = page_tables_at(db, monkeypatch, page, ladder, date(2026, 6, 30))
        assert len(cut) == len(read) > 0
        assert all(a.equals(b) for a, b in zip(cut, read, strict=True)), page
