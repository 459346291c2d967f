"""Saved versions of the settings, and each person's draft.

Every saved version is kept (so any earlier one can return) with its author and who saved it. On a
shared dashboard a rules edit is first a draft of its author, kept per person; an admin saves a draft
as the newest version, which every page then uses."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from funnel.access import local_user
from funnel.config import DEFAULT_PATH, Settings, load_settings, settings_from_text
from funnel.errors import StoreError
from funnel.schema import SETTINGS_DRAFTS, SETTINGS_VERSIONS
from funnel.store.db import first_row, frame, scalar


def saved_versions(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """One row per saved version, newest first (the TOML text included)."""
    return frame(con, f"SELECT version, saved_at, note, author, saved_by, toml FROM {SETTINGS_VERSIONS} "
                      "ORDER BY version DESC")


def settings_in_force(con: duckdb.DuckDBPyConnection, config: Path | str | None = None) -> Settings:
    """The settings a command computes with, the same as everyone's pages: the newest version saved on the
    Rules page (over the packaged defaults), else $FUNNEL_CONFIG or the packaged defaults. A `config` file
    given to the command (`--config`) wins over both."""
    if config is not None:
        return load_settings(config)
    row = first_row(con, f"SELECT version, toml FROM {SETTINGS_VERSIONS} ORDER BY version DESC LIMIT 1")
    return settings_from_text(row[1], source=f"saved settings version {row[0]}") if row else load_settings()


def active_text(con: duckdb.DuckDBPyConnection) -> str:
    """The newest saved settings, or the packaged defaults when nothing was saved."""
    row = first_row(con, f"SELECT toml FROM {SETTINGS_VERSIONS} ORDER BY version DESC LIMIT 1")
    return row[0] if row else DEFAULT_PATH.read_text(encoding="utf-8")


def save_version(con: duckdb.DuckDBPyConnection, text: str, *, note: str = "", author: str | None = None,
                 saved_by: str | None = None, now: datetime | None = None) -> int:
    """Validates `text` (raising ConfigError) and stores it as the newest version written by `author` (default:
    the local user) and saved by `saved_by` (default: the author); returns its number."""
    settings_from_text(text, source="edited settings")
    author = author or local_user()
    version = scalar(con, f"SELECT coalesce(max(version), 0) + 1 FROM {SETTINGS_VERSIONS}")
    con.execute(f"INSERT INTO {SETTINGS_VERSIONS} VALUES ($v, $at, $note, $toml, $author, $by)",
                {"v": version, "at": now or datetime.now(), "note": note, "toml": text, "author": author,
                 "by": saved_by or author})
    return version


def draft_text(con: duckdb.DuckDBPyConnection, author: str) -> str | None:
    """The author's unsaved rules edit, or None."""
    row = first_row(con, f"SELECT toml FROM {SETTINGS_DRAFTS} WHERE author = $a", {"a": author})
    return row[0] if row else None


def drafts(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every person's draft (author, saved_at, toml), newest first."""
    return frame(con, f"SELECT author, saved_at, toml FROM {SETTINGS_DRAFTS} ORDER BY saved_at DESC, author")


def save_draft(con: duckdb.DuckDBPyConnection, text: str, *, author: str, now: datetime | None = None) -> None:
    """Keeps `text` (validated: raises ConfigError) as the author's draft, replacing their earlier one."""
    settings_from_text(text, source="edited settings")
    con.execute(f"INSERT OR REPLACE INTO {SETTINGS_DRAFTS} VALUES ($a, $at, $t)",
                {"a": author, "at": now or datetime.now(), "t": text})


def discard_draft(con: duckdb.DuckDBPyConnection, author: str) -> None:
    con.execute(f"DELETE FROM {SETTINGS_DRAFTS} WHERE author = $a", {"a": author})


def save_draft_as_version(con: duckdb.DuckDBPyConnection, author: str, *, note: str, saved_by: str,
                          now: datetime | None = None) -> int:
    """The author's draft saved as the newest version (and the draft dropped), in one transaction."""
    text = draft_text(con, author)
    if text is None:
        raise StoreError(f"{author} has no draft to save", hint="Reload the Rules page")
    con.execute("BEGIN TRANSACTION")
    try:
        version = save_version(con, text, note=note, author=author, saved_by=saved_by, now=now)
        discard_draft(con, author)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return version
