"""Roles, the team allow-list, the local-only refusal, the server's databases by name, and who each write
records: given/expect on the pure functions (the browser flow is in tests/browser/test_sign_in.py)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from funnel.access import (
    Action,
    Person,
    Role,
    may,
    person_from_claims,
    role_of,
    serving_refusal,
    team_from_config,
)
from funnel.errors import ConfigError, StoreError
from funnel.ingest.importer import prepare_import, remove_import, write_import
from funnel.store import settings_versions as sv
from funnel.store.databases import create_database, data_folder, database_file, database_names
from funnel.store.db import connect
from funnel.store.inventory import import_history

TEAM = team_from_config({"admin": ["Ana@Example.com"], "analyst": ["bo@example.com", "analytics.example.org"],
                         "viewer": ["example.com"]})


@pytest.mark.parametrize(("role", "allowed"), [
    (Role.VIEWER, set()),
    (Role.ANALYST, {Action.EXPORT, Action.DRAFT_RULES, Action.REVIEW}),
    (Role.ADMIN, set(Action)),
])
def test_what_each_role_may_do(role, allowed):
    assert {a for a in Action if may(role, a)} == allowed


@pytest.mark.parametrize(("email", "role"), [
    ("ana@example.com", Role.ADMIN),          # her own entry outranks her domain's
    (" ANA@EXAMPLE.COM ", Role.ADMIN),
    ("bo@example.com", Role.ANALYST),
    ("cy@example.com", Role.VIEWER),          # by domain
    ("di@analytics.example.org", Role.ANALYST),
    ("eve@sub.example.com", None),            # a subdomain is another domain
    ("eve@example.com.evil.io", None),
    ("example.com", None),
    ("eve@evil.io", None),
    ("", None),
    (None, None),
    ("a@b@example.com", None),
])
def test_role_of_an_email(email, role):
    assert role_of(email, TEAM) == role


def test_claims_become_a_person_only_when_on_the_team_and_verified():
    assert person_from_claims({"email": "Bo@example.com", "name": "Bo"}, TEAM) == \
        Person(name="Bo", email="bo@example.com", role=Role.ANALYST)
    assert person_from_claims({"email": "cy@example.com"}, TEAM).name == "cy@example.com"
    assert person_from_claims({"email": "cy@example.com", "email_verified": False}, TEAM) is None
    assert person_from_claims({"email": "eve@evil.io", "name": "Eve"}, TEAM) is None
    assert person_from_claims({"name": "No mail"}, TEAM) is None
    assert person_from_claims({"email": "ana@example.com"}, team_from_config({})) is None  # empty team: nobody


@pytest.mark.parametrize(("section", "words"), [
    ({"owner": ["a@example.com"]}, "unknown role 'owner'"),
    ({"admin": "a@example.com"}, "must be a list"),
    ({"admin": ["not an address"]}, "neither an e-mail nor a domain"),
    ({"admin": ["@example.com"]}, "neither an e-mail nor a domain"),
    ({"admin": ["a@example.com"], "viewer": ["A@example.com"]}, "both admin and viewer"),
])
def test_a_wrong_team_list_is_a_clear_error(section, words):
    with pytest.raises(ConfigError, match=words):
        team_from_config(section)


@pytest.mark.parametrize(("address", "auth", "refused"), [
    ("localhost", False, False), ("127.0.0.1", False, False), ("::1", False, False), ("[::1]", False, False),
    ("0.0.0.0", False, True), ("192.168.1.5", False, True), ("", False, True), (None, False, True),
    ("0.0.0.0", True, False), (None, True, False),
])
def test_without_sign_in_a_server_serves_this_machine_only(address, auth, refused):
    reason = serving_refusal(address, auth_configured=auth)
    assert (reason is not None) == refused
    if refused:
        assert "sign-in is not configured" in reason and "localhost" in reason


def test_the_data_folder_and_the_default_database(tmp_path: Path):
    assert data_folder(None, env={}).folder == Path("data") and data_folder(None, env={}).default == "funnel"
    place = data_folder(str(tmp_path / "team.duckdb"), env={})
    assert (place.folder, place.default) == (tmp_path, "team")
    other = tmp_path / "other"
    assert data_folder(None, env={"FUNNEL_DB": str(tmp_path / "x.duckdb"), "FUNNEL_DATA_DIR": str(other)}).folder == other
    with pytest.raises(StoreError, match="not a usable database name"):
        data_folder(str(tmp_path / "my team.duckdb"), env={})


def test_databases_are_listed_and_created_by_validated_name_inside_the_folder(tmp_path: Path):
    folder = tmp_path / "data"
    place = data_folder(str(folder / "funnel.duckdb"), env={})
    assert place.names() == ["funnel"] and database_names(folder) == []
    create_database(place, "emea-2026")
    (folder / "notes.txt").write_text("x")
    (folder / "odd name.duckdb").write_text("x")        # a file an operator named: not addressable, not listed
    (folder / "linked.duckdb").symlink_to(tmp_path / "elsewhere.duckdb")
    assert place.names() == ["funnel", "emea-2026"]
    assert place.path_of("emea-2026") == folder / "emea-2026.duckdb"
    for bad in ("../x", "/etc/passwd", "a/b", "..", "", "a b", "é", "x" * 65, "x.duckdb", "nul\x00"):
        with pytest.raises(StoreError, match="letters, digits"):
            database_file(folder, bad)
        with pytest.raises(StoreError):
            place.path_of(bad)
    with pytest.raises(StoreError, match="already exists"):
        create_database(place, "emea-2026")
    with pytest.raises(StoreError, match="no database of that name"):
        place.path_of("unlisted")
    assert sorted(p.name for p in tmp_path.rglob("*.duckdb")) == ["emea-2026.duckdb", "linked.duckdb", "odd name.duckdb"]


def test_imports_and_removals_record_who(tmp_path: Path, monkeypatch):
    csv = tmp_path / "leads.csv"
    csv.write_text("lead_id,email,created_at\nL1,a@x.com,2026-01-02\n", encoding="utf-8")
    con = connect(tmp_path / "f.duckdb")
    write_import(con, prepare_import(csv), by="ana@example.com")
    remove_import(con, 1, by="bo@example.com")
    monkeypatch.setattr("getpass.getuser", lambda: "maria")
    csv.write_text("lead_id,email,created_at\nL2,b@x.com,2026-01-03\n", encoding="utf-8")
    write_import(con, prepare_import(csv))  # the CLI: the operating-system user
    rows = import_history(con).sort("import_id").select("imported_by", "removed_by").rows()
    assert rows == [("ana@example.com", "bo@example.com"), ("maria", None)]


def test_a_settings_version_records_author_and_saver_and_drafts_are_per_person(tmp_path: Path):
    con = connect(tmp_path / "f.duckdb")
    at = datetime(2026, 3, 1, 9)
    sv.save_draft(con, "[conversion]\nwindow_days = 45\n", author="bo@example.com", now=at)
    sv.save_draft(con, "[conversion]\nwindow_days = 60\n", author="cy@example.com", now=at)
    sv.save_draft(con, "[conversion]\nwindow_days = 50\n", author="bo@example.com", now=at)  # replaces his own
    assert sv.draft_text(con, "bo@example.com") == "[conversion]\nwindow_days = 50\n"
    assert sv.active_text(con) == sv.DEFAULT_PATH.read_text(encoding="utf-8")  # a draft changes nothing in force
    with pytest.raises(ConfigError):
        sv.save_draft(con, "[conversion]\nwindow_days = -1\n", author="bo@example.com")
    assert sv.save_draft_as_version(con, "bo@example.com", note="shorter window", saved_by="ana@example.com") == 1
    assert sv.active_text(con) == "[conversion]\nwindow_days = 50\n"
    assert sv.draft_text(con, "bo@example.com") is None and sv.draft_text(con, "cy@example.com") is not None
    assert sv.save_version(con, "[conversion]\nwindow_days = 40\n", note="mine", author="ana@example.com") == 2
    rows = sv.saved_versions(con).select("version", "note", "author", "saved_by").rows()
    assert rows == [(2, "mine", "ana@example.com", "ana@example.com"),
                    (1, "shorter window", "bo@example.com", "ana@example.com")]
    with pytest.raises(StoreError, match="no draft"):
        sv.save_draft_as_version(con, "bo@example.com", note="", saved_by="ana@example.com")


def test_an_older_store_gains_the_who_columns(tmp_path: Path):
    import duckdb

    path = tmp_path / "old.duckdb"
    old = duckdb.connect(str(path))
    old.execute("CREATE TABLE settings_versions (version BIGINT PRIMARY KEY, saved_at TIMESTAMP, note VARCHAR, "
                "toml VARCHAR)")
    old.execute("INSERT INTO settings_versions VALUES (1, TIMESTAMP '2026-01-01', 'old', '[conversion]\nwindow_days = 45\n')")
    old.close()
    con = connect(path, read_only=True)  # a read-only command upgrades it first
    assert sv.saved_versions(con).select("version", "author").rows() == [(1, None)]
    con.close()
    con = connect(path)
    assert sv.save_version(con, "[conversion]\nwindow_days = 40\n", author="ana@example.com") == 2
