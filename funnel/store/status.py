"""The store's state as the dashboard reads it: a version that changes with every import, removal or saved
settings, the newest saved settings text, and how many imports (of a given mapping) are active."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from funnel.schema import IMPORTS, SETTINGS_VERSIONS
from funnel.store.db import first_row, scalar
from funnel.store.queries import sql_text

# Removed imports and saved settings versions share the second part of the data version.
_REMOVED_WEIGHT = 100000


def data_version(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """(newest import id, removed imports × 100000 + newest settings version): part of every cache key."""
    return view_state(con, author=None).version


@dataclass(frozen=True)
class ViewState:
    """What a dashboard run depends on, read in one query: the data version, the newest saved settings text
    (empty when none was saved) and one person's draft (None when they have none)."""

    version: tuple[int, int]
    saved_text: str
    draft_text: str | None


def view_state(con: duckdb.DuckDBPyConnection, *, author: str | None) -> ViewState:
    """The data version, the saved settings and `author`'s draft, in one cheap read (`view_state.sql`)."""
    newest, removed, saved, saved_toml, draft_toml = first_row(con, sql_text("view_state"), {"author": author})
    return ViewState((newest, removed * _REMOVED_WEIGHT + saved), saved_toml or "", draft_toml)


def saved_settings_text(con: duckdb.DuckDBPyConnection) -> str:
    """The newest settings saved on the Rules page as TOML text; empty when none was saved."""
    row = first_row(con, f"SELECT toml FROM {SETTINGS_VERSIONS} ORDER BY version DESC LIMIT 1")
    return row[0] if row else ""


def import_count(con: duckdb.DuckDBPyConnection, *, mapping: str | None = None) -> int:
    """Imports ever made (None), or the active imports made with the mapping named `mapping`."""
    if mapping is None:
        return scalar(con, f"SELECT count(*) FROM {IMPORTS}")
    return scalar(con, f"SELECT count(*) FROM {IMPORTS} WHERE mapping = $m AND removed_at IS NULL", {"m": mapping})


def active_import_ids(history: pl.DataFrame) -> list[int]:
    """The ids of the imports of an `import_history` frame that were not removed, newest first."""
    return history.filter(pl.col("removed_at").is_null()).get_column("import_id").to_list()


def stored_rows(inventory: pl.DataFrame) -> int:
    """All rows the store holds, from a `data_inventory` frame."""
    return int(inventory.get_column("rows").sum())


def import_labels(history: pl.DataFrame) -> dict[int, str]:
    """For each import of an `import_history` frame: "#id file → table · rows · imported day", plain text."""
    return {row["import_id"]: (f"#{row['import_id']} {row['file_name']} → {row['table_name']} · "
                               f"{row['rows'] or 0:,} rows · imported {row['imported_at']:%Y-%m-%d}"
                               if row["imported_at"] else
                               f"#{row['import_id']} {row['file_name']} → {row['table_name']} · {row['rows'] or 0:,} rows")
            for row in history.iter_rows(named=True)}
