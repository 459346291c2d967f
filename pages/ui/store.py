"""The database this session uses, its version, the active settings, and what the store holds.

Every cached call is keyed by a `StoreKey`: the database path, the data version (which changes with each
import, removal or saved settings version) and the active settings text."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl
import streamlit as st

from funnel.config import Settings, load_settings, settings_from_text
from funnel.ingest.mapping_guess import saved_mappings
from funnel.ingest.upload import load_bundled_sample
from funnel.model.identity import (
    identity_conflicts,
    identity_is_built,
    identity_matches,
    rebuild_identity,
    unmatched_people,
)
from funnel.store.db import connect, default_db_path
from funnel.store.inventory import data_inventory, import_history, newest_timestamp
from funnel.store.status import data_version, import_count, saved_settings_text, stored_rows

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DIR = ROOT / "sample_data"
SAMPLE_LABEL = "sample data"
SAMPLE_FILES = ("accounts.csv", "leads.csv", "stage_events.csv", "activities.csv", "deals.csv")
COMPUTING = "Computing from the database… the first view after an import takes longest; later views are cached."


def cli_db_argument() -> str | None:
    """`streamlit run app.py -- --db PATH` sets the database for this server."""
    args = sys.argv[1:]
    if "--db" in args and args.index("--db") + 1 < len(args):
        return args[args.index("--db") + 1]
    return None


def db_path() -> Path:
    """The database this session uses: the sidebar's choice, else --db, else FUNNEL_DB, else the default."""
    chosen = st.session_state.get("db_path") or cli_db_argument()
    return Path(chosen) if chosen else default_db_path()


@st.cache_resource(show_spinner=False)
def store(path: str) -> duckdb.DuckDBPyConnection:
    """One shared connection per database file; sessions query through their own cursors."""
    return connect(path)


@contextmanager
def opened(path: str | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor of this session's database (or of `path`), closed on leaving the block."""
    con = store(path or str(db_path())).cursor()
    try:
        yield con
    finally:
        con.close()


@dataclass(frozen=True)
class StoreKey:
    """What a cached result depends on besides its own arguments."""

    db: str
    version: tuple[int, int]
    settings_text: str

    @property
    def settings(self) -> Settings:
        return settings_for(self.settings_text)

    def opened(self):
        return opened(self.db)


def key() -> StoreKey:
    """This session's database, its current data version and the active settings text."""
    with opened() as con:
        return StoreKey(str(db_path()), data_version(con), saved_settings_text(con))


def settings_text() -> str:
    """The active settings as TOML text: the newest version saved on the Rules page, else empty (the file)."""
    with opened() as con:
        return saved_settings_text(con)


@st.cache_data(max_entries=16, show_spinner=False)
def settings_for(text: str) -> Settings:
    return settings_from_text(text, source="saved settings") if text else load_settings()


def active_settings() -> Settings:
    return settings_for(settings_text())


@st.cache_data(max_entries=32, show_spinner=False)
def _inventory(db: str, version: tuple[int, int]) -> tuple[pl.DataFrame, datetime | None]:
    with opened(db) as con:
        return data_inventory(con), newest_timestamp(con)


def inventory() -> tuple[pl.DataFrame, datetime | None]:
    """Rows and date ranges per table, and the newest timestamp (the default as-of date)."""
    at = key()
    return _inventory(at.db, at.version)


def table_rows(table: str) -> int:
    frame, _ = inventory()
    match = frame.filter(pl.col("table") == table)
    return int(match.get_column("rows")[0]) if match.height else 0


def total_rows() -> int:
    return stored_rows(inventory()[0])


@st.cache_data(max_entries=8, show_spinner=False)
def _sample_loaded(db: str, version: tuple[int, int]) -> bool:
    with opened(db) as con:
        return bool(import_count(con, mapping=SAMPLE_LABEL))


def sample_loaded() -> bool:
    at = key()
    return _sample_loaded(at.db, at.version)


def load_sample_if_empty() -> None:
    """On first start with FUNNEL_LOAD_SAMPLE=1 (make run), loads sample_data/ into an empty store."""
    if os.environ.get("FUNNEL_LOAD_SAMPLE") != "1" or st.session_state.get("sample_checked"):
        return
    st.session_state["sample_checked"] = True
    with opened() as con:
        if import_count(con):
            return
        with st.spinner("Loading the bundled sample data…"):
            load_bundled_sample(con, SAMPLE_DIR, SAMPLE_FILES, settings=active_settings(), label=SAMPLE_LABEL)
            rebuild_identity(con, settings=active_settings())
    st.cache_data.clear()


def saved_mapping_texts() -> tuple[tuple[str, str], ...]:
    """(name, TOML) of every mapping saved from the guided mapper, newest first."""
    with opened() as con:
        return tuple((m.source, m.text) for m in saved_mappings(con))


def history() -> pl.DataFrame:
    with opened() as con:
        return import_history(con)


@st.cache_data(max_entries=8, show_spinner=False)
def _people_across_tools(db: str, version: tuple[int, int]) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    with opened(db) as con:
        if not identity_is_built(con):
            return pl.DataFrame(), pl.DataFrame(), pl.DataFrame()
        return identity_matches(con), unmatched_people(con), identity_conflicts(con)


def people_across_tools() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """How each import's rows joined leads, the ids that joined none, and the identity conflicts."""
    at = key()
    return _people_across_tools(at.db, at.version)
