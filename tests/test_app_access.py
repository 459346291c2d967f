"""Sign-in and roles under AppTest: `at.secrets` gives the server an [auth] and a [team] section, `at.user`
seeds st.user as the identity provider would. Who sees what, and every write path checking the role
itself (not only hiding its button). The real sign-in against an OIDC provider is in tests/browser."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from funnel.store import settings_versions as sv
from funnel.store.inventory import import_history
from pages.ui.store import store as cached_store
from tests.apptest import app, copied

SECRETS = {
    "auth": {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "x" * 32,
             "client_id": "c", "client_secret": "s",
             "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"},
    "team": {"admin": ["ana@example.com"], "analyst": ["bo@example.com"], "viewer": ["example.com"]},
}
ANA = {"is_logged_in": True, "email": "ana@example.com", "name": "Ana Admin"}
BO = {"is_logged_in": True, "email": "bo@example.com", "name": "Bo Analyst"}
CY = {"is_logged_in": True, "email": "cy@example.com", "name": "Cy Viewer"}


@pytest.fixture(scope="module")
def sample_db(bundled_sample, tmp_path_factory) -> Path:
    return copied(bundled_sample, tmp_path_factory.mktemp("access") / "sample.duckdb")


@pytest.fixture
def store(sample_db, tmp_path) -> Path:
    return copied(sample_db, tmp_path / "team.duckdb")


def signed_in(db: Path, monkeypatch, user: dict, page: str | None = None) -> AppTest:
    at = app(db, monkeypatch, sample=False)
    at.secrets = SECRETS
    at.user = dict(user)
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception
    return at


def shared(db: Path):
    """A cursor of the connection the app under test holds (DuckDB allows one instance per file and process)."""
    return cached_store(str(db)).cursor()


def texts(at: AppTest) -> str:
    return "\n".join([t.value for t in at.text] + [t.value for t in at.sidebar.text] + [c.value for c in at.caption]
                     + [e.value for e in at.error])


def test_a_visitor_who_is_not_signed_in_sees_only_the_sign_in_button(store, monkeypatch):
    at = signed_in(store, monkeypatch, {"is_logged_in": False})
    assert [b.key for b in at.button] == ["sign_in"]
    assert not at.dataframe and not at.sidebar.selectbox and "rows" not in texts(at)


def test_a_signed_in_account_off_the_team_is_refused(store, monkeypatch):
    at = signed_in(store, monkeypatch, {"is_logged_in": True, "email": "eve@evil.io", "name": "Eve"})
    assert "not on this dashboard's team list" in texts(at)
    assert "eve@evil.io" in texts(at)
    assert not at.dataframe and not at.sidebar.selectbox
    at.button(key="sign_out_refused").click().run()
    assert [b.key for b in at.button] == ["sign_in"]  # signed out


def test_an_unverified_email_is_refused(store, monkeypatch):
    at = signed_in(store, monkeypatch, {**CY, "email_verified": False})
    assert "not on this dashboard's team list" in texts(at) and not at.dataframe


def test_without_sign_in_the_dashboard_refuses_any_address_beyond_this_machine(store, monkeypatch):
    real = st.get_option
    monkeypatch.setattr(st, "get_option", lambda name: "0.0.0.0" if name == "server.address" else real(name))
    at = app(store, monkeypatch, sample=False)
    at.run()
    assert not at.exception
    assert "refuses to serve" in at.error[0].value
    assert "sign-in is not configured" in at.text[0].value
    assert not at.dataframe and not at.sidebar.selectbox


def test_the_viewer_reads_but_cannot_import_remove_save_or_download(store, monkeypatch):
    at = signed_in(store, monkeypatch, CY, "pages/data.py")
    assert "Cy Viewer · viewer" in texts(at)
    assert at.dataframe  # reads
    assert not at.get("file_uploader") and not [b for b in at.button if b.key == "remove_button"]
    assert "may not import files" in texts(at)
    assert not [e for e in at.sidebar.expander if e.label == "New database"]
    at.switch_page("pages/rules.py").run()
    assert not {b.key for b in at.button} & {"rules_save", "rules_draft", "rules_restore"}
    at.switch_page("pages/handoff_review.py").run()
    assert not at.exception
    assert not at.get("download_button") and "may not download exports" in texts(at)
    assert not [b for b in at.button if b.key == "hr_save"]


def test_the_analyst_drafts_rules_that_only_they_see_until_an_admin_saves_them(store, monkeypatch):
    bo = signed_in(store, monkeypatch, BO, "pages/rules.py")
    keys = {b.key for b in bo.button}
    assert "rules_draft" in keys and "rules_save" not in keys and "rules_restore" not in keys
    bo.text_area(key="rules_text").input("[conversion]\nwindow_days = 45\n").run()
    bo.button(key="rules_draft").click().run()
    assert not bo.exception
    with shared(store) as con:
        assert sv.draft_text(con, "bo@example.com") == "[conversion]\nwindow_days = 45\n"
        assert sv.saved_versions(con).height == 0
    bo.run()  # AppTest takes a widget first drawn in an st.rerun pass only from the next run on
    bo.sidebar.toggle(key="use_draft").set_value(True).run()
    assert any("computed on your draft rules" in w.value for w in bo.warning)

    cy = signed_in(store, monkeypatch, CY, "pages/rules.py")  # everyone else: the saved settings
    assert not cy.sidebar.toggle and not any("draft" in w.value for w in cy.warning)

    ana = signed_in(store, monkeypatch, ANA, "pages/rules.py")
    assert ana.selectbox(key="rules_draft_author").value == "bo@example.com"
    ana.text_input(key="rules_draft_note").input("a 45-day window").run()
    ana.button(key="rules_save_draft").click().run()
    assert not ana.exception
    with shared(store) as con:
        rows = sv.saved_versions(con).select("note", "author", "saved_by", "toml").rows()
        assert rows == [("a 45-day window", "bo@example.com", "ana@example.com", "[conversion]\nwindow_days = 45\n")]
        assert sv.drafts(con).height == 0


def test_the_admin_imports_removes_and_creates_databases(store, monkeypatch):
    at = signed_in(store, monkeypatch, ANA, "pages/data.py")
    assert "Ana Admin · admin" in texts(at)
    assert at.get("file_uploader") and [e for e in at.sidebar.expander if e.label == "New database"]
    at.selectbox(key="remove_choice").select(5)
    at.button(key="remove_button").click().run()
    assert not at.exception
    with shared(store) as con:
        history = import_history(con)
    assert history.filter(history.get_column("import_id") == 5).get_column("removed_by").to_list() == ["ana@example.com"]


def test_a_signed_in_reviewer_is_recorded_by_their_email_not_a_typed_name(store, monkeypatch):
    at = signed_in(store, monkeypatch, BO, "pages/handoff_review.py")
    assert not [t for t in at.text_input if t.key == "hr_reviewer"]
    at.radio(key="hr_stage").set_value("wrong")
    at.text_input(key="hr_stage_reason").set_value("student")
    at.button(key="hr_save").click().run()
    assert not at.exception
    with shared(store) as con:
        assert con.execute("SELECT DISTINCT reviewer FROM review_verdicts").fetchall() == [("bo@example.com",)]


WRITE_PATH = '''
import streamlit as st
from pages.ui import rules, uploads
getattr(rules, "{fn}")(*{args}) if "{fn}" in ("save_version", "keep_draft", "save_draft_of") \\
    else getattr(uploads, "{fn}")(*{args})
st.text("written")
'''


@pytest.mark.parametrize(("user", "fn", "args"), [
    (CY, "undo_import", (5, "#5")), (BO, "undo_import", (5, "#5")), (CY, "import_files", ([],)),
    (BO, "import_files", ([],)), (CY, "save_version", ("[conversion]\nwindow_days = 45\n", "x")),
    (BO, "save_version", ("[conversion]\nwindow_days = 45\n", "x")), (CY, "keep_draft", ("[conversion]\n",)),
    (BO, "save_draft_of", ("bo@example.com", "x")),
])
def test_every_write_path_checks_the_role_itself(store, monkeypatch, user, fn, args):
    """Called directly (as a crafted rerun would), each write helper refuses a role that may not write."""
    monkeypatch.setenv("FUNNEL_DB", str(store))
    at = AppTest.from_string(WRITE_PATH.format(fn=fn, args=repr(args)), default_timeout=60)
    at.secrets = SECRETS
    at.user = dict(user)
    at.run()
    assert not at.exception
    assert "may not" in at.error[0].value and not [t for t in at.text if t.value == "written"]
    with shared(store) as con:
        assert import_history(con).get_column("removed_at").null_count() == 5
        assert sv.saved_versions(con).height == 0 and sv.drafts(con).height == 0
