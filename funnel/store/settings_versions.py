"""Saved versions of the settings: the Rules page keeps every edit, so any earlier version can return."""

from __future__ import annotations

from datetime import datetime

import duckdb
import polars as pl

from funnel.config import DEFAULT_PATH, settings_from_text
from funnel.schema import SETTINGS_VERSIONS
from funnel.store.db import first_row, frame, scalar


def saved_versions(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """One row per saved version, newest first (the TOML text included)."""
    return frame(con, f"SELECT version, saved_at, note, toml FROM {SETTINGS_VERSIONS} ORDER BY version DESC")


def active_text(con: duckdb.DuckDBPyConnection) -> str:
    """The newest saved settings, or the packaged defaults when nothing was saved."""
    row = first_row(con, f"SELECT toml FROM {SETTINGS_VERSIONS} ORDER BY version DESC LIMIT 1")
    return row[0] if row else DEFAULT_PATH.read_text(encoding="utf-8")


def save_version(con: duckdb.DuckDBPyConnection, text: str, *, note: str = "", now: datetime | None = None) -> int:
    """Validates `text` (raising ConfigError) and stores it as the newest version; returns its number."""
    settings_from_text(text, source="edited settings")
    version = scalar(con, f"SELECT coalesce(max(version), 0) + 1 FROM {SETTINGS_VERSIONS}")
    con.execute(f"INSERT INTO {SETTINGS_VERSIONS} VALUES ($v, $at, $note, $toml)",
                {"v": version, "at": now or datetime.now(), "note": note, "toml": text})
    return version
