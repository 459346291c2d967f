"""The store: one persistent DuckDB file, opened locked down, with the canonical tables.

This module owns every connection. Identifiers reach SQL only through `quote_ident`, and only
from the schema or a user's saved mapping; values are always bound parameters.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from funnel.errors import StoreError
from funnel.schema import (
    ATTRIBUTES,
    DUCKDB_TYPE,
    HISTORY_SUFFIX,
    IDENTITY_LINKS,
    IMPORT_ID,
    IMPORTS,
    MODEL_FUNNEL_ENTRIES,
    MODEL_LIFECYCLE_ENTRIES,
    MODEL_PART_TABLES,
    MODEL_STATE,
    RAW_SCHEMA,
    REVIEW_VERDICTS,
    SAVED_MAPPINGS,
    SETTINGS_DRAFTS,
    SETTINGS_VERSIONS,
    SOURCE_ROW,
    TABLES,
    Table,
)

DEFAULT_DB = Path("data") / "funnel.duckdb"
TABLES_WITH_ATTRIBUTES = ("leads", "accounts", "deals")
# The store's own bookkeeping tables: column definitions, in order (the importer writes rows by position).
# Columns added later go at the end: `ensure_schema` adds them to an older store (`*_by`: who did it).
BOOKKEEPING_COLUMNS: dict[str, tuple[str, ...]] = {
    IMPORTS: ("import_id BIGINT PRIMARY KEY", "file_name VARCHAR NOT NULL", "sha256 VARCHAR NOT NULL",
              "table_name VARCHAR NOT NULL", "format VARCHAR", "rows BIGINT", "added BIGINT", "updated BIGINT",
              "unchanged BIGINT", "rejected BIGINT", "derived VARCHAR", "mapping VARCHAR", "warnings VARCHAR",
              "imported_at TIMESTAMP", "removed_at TIMESTAMP", "imported_by VARCHAR", "removed_by VARCHAR"),
    SAVED_MAPPINGS: ("name VARCHAR PRIMARY KEY", "saved_at TIMESTAMP", "toml VARCHAR"),
    SETTINGS_VERSIONS: ("version BIGINT PRIMARY KEY", "saved_at TIMESTAMP", "note VARCHAR", "toml VARCHAR",
                        "author VARCHAR", "saved_by VARCHAR"),
    SETTINGS_DRAFTS: ("author VARCHAR PRIMARY KEY", "saved_at TIMESTAMP", "toml VARCHAR"),
    REVIEW_VERDICTS: ("verdict_id BIGINT PRIMARY KEY", "sample_id VARCHAR NOT NULL", "lead_id VARCHAR NOT NULL",
                      "question VARCHAR NOT NULL", "reviewer VARCHAR NOT NULL", "judged_right BOOLEAN NOT NULL",
                      "reason VARCHAR", "recorded_at TIMESTAMP NOT NULL"),
    # The lead model (funnel.model.materialised): which part was built for which settings, and the funnel
    # engine's entries of one run over all the data.
    MODEL_STATE: ("part VARCHAR PRIMARY KEY", "settings_key VARCHAR NOT NULL", "built_at TIMESTAMP", "rows BIGINT",
                  "seconds DOUBLE"),
    MODEL_FUNNEL_ENTRIES: ("lead_id VARCHAR", "stage VARCHAR", "stage_rank INTEGER", "entered_at TIMESTAMP",
                           "reason VARCHAR", "is_side BOOLEAN", "evidence_type VARCHAR", "evidence_id VARCHAR",
                           "evidence_at TIMESTAMP", "entry_order INTEGER", "next_at TIMESTAMP"),
    # lifecycle_entries.sql's rows of one run over all the data (read cut at D: model_lifecycle_entries.sql).
    MODEL_LIFECYCLE_ENTRIES: ("lead_id VARCHAR", "stage_rank INTEGER", "entered_at TIMESTAMP", "reason VARCHAR",
                              "basis VARCHAR", "seq BIGINT", "prev_rank INTEGER"),
}
# The lead model's tables beyond its state and its entries (funnel.model.materialised), each there only while its
# part is built: every rebuild of the data drops them.
MODEL_TABLES = tuple(dict.fromkeys(t for tables in MODEL_PART_TABLES.values() for t in tables
                                   if t not in BOOKKEEPING_COLUMNS))


def default_db_path() -> Path:
    """FUNNEL_DB when set, else data/funnel.duckdb under the working directory."""
    return Path(os.environ.get("FUNNEL_DB") or DEFAULT_DB)


def quote_ident(name: str) -> str:
    """The one way an identifier enters SQL: double-quoted, inner quotes doubled."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise ValueError(f"not a usable SQL identifier: {name!r}")
    return '"' + name.replace('"', '""') + '"'


def connect(path: Path | str | None = None, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A locked-down connection to the database file, its tables created when missing."""
    db_path = Path(path) if path is not None else default_db_path()
    if not read_only:
        db_path.parent.mkdir(parents=True, exist_ok=True)
    elif not db_path.exists():
        raise StoreError("the database does not exist yet", file=str(db_path),
                         hint="Import a file first (funnel import, or the Data page)")
    config = {"autoload_known_extensions": False, "autoinstall_known_extensions": False,
              "allow_community_extensions": False,
              "memory_limit": os.environ.get("FUNNEL_DUCKDB_MEMORY", "3GB")}
    try:
        con = duckdb.connect(str(db_path), read_only=read_only, config=config)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise StoreError("the database is in use by another process (is the dashboard running?)",
                             file=str(db_path), hint="Stop the other process, or use another --db") from None
        raise StoreError("the database file cannot be opened", file=str(db_path),
                         hint="Check the path, or move the file aside to start fresh") from None
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    if not read_only:
        ensure_schema(con)
    elif missing_columns(con):  # a store from an older version, read before anything wrote to it
        con.close()
        connect(db_path).close()
        return connect(db_path, read_only=True)
    return con


def memory_connection() -> duckdb.DuckDBPyConnection:
    """A locked-down in-memory store with the canonical tables (tests, notebooks)."""
    con = duckdb.connect(":memory:", config={"autoload_known_extensions": False,
                                             "autoinstall_known_extensions": False})
    con.execute("SET enable_external_access = false")
    ensure_schema(con)
    return con


def column_definitions(table: Table) -> list[str]:
    cols = [f"{quote_ident(c.name)} {DUCKDB_TYPE[c.kind]}" for c in table.columns]
    if table.name in TABLES_WITH_ATTRIBUTES:
        cols.append(f"{quote_ident(ATTRIBUTES)} MAP(VARCHAR, VARCHAR)")
    cols.append(f"{quote_ident(IMPORT_ID)} BIGINT")
    cols.append(f"{quote_ident(SOURCE_ROW)} BIGINT")
    return cols


def raw_name(table: str) -> str:
    """The quoted name of a table as imported (before identity resolution): `raw.<table>`."""
    return f"{quote_ident(RAW_SCHEMA)}.{quote_ident(table)}"


@contextmanager
def raw_tables(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """The connection with unqualified table names read and written in the raw (imported) tables, while
    the block runs: the importer's SQL stays as written. Search paths are per connection (and per cursor)."""
    con.execute(f"SET search_path = '{RAW_SCHEMA},main'")
    try:
        yield con
    finally:
        con.execute("RESET search_path")


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Creates any missing canonical, history and bookkeeping table: imported rows (and their history) in
    the raw schema, the rows resolved to leads under the canonical names in `main`."""
    fresh = not scalar(con, "SELECT count(*) FROM duckdb_schemas() WHERE schema_name = $s", {"s": RAW_SCHEMA})
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(RAW_SCHEMA)}")
    for table in (*TABLES.values(), IDENTITY_LINKS):
        cols = column_definitions(table)
        resolved = quote_ident(table.name)
        had_rows = fresh and table.name in TABLES and scalar(
            con, "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = $t",
            {"t": table.name})
        con.execute(f"CREATE TABLE IF NOT EXISTS {raw_name(table.name)} ({', '.join(cols)})")
        history = raw_name(table.name + HISTORY_SUFFIX)
        con.execute(f"CREATE TABLE IF NOT EXISTS {history} ({', '.join(cols)}, _superseded_by BIGINT)")
        if had_rows:  # a store from before the identity model: its rows become the imported rows
            con.execute(f"INSERT INTO {raw_name(table.name)} SELECT * FROM main.{resolved}")
            old_history = quote_ident(table.name + HISTORY_SUFFIX)
            con.execute(f"INSERT INTO {history} SELECT * FROM main.{old_history}")
            con.execute(f"DROP TABLE main.{old_history}")
        if table.name in TABLES:
            con.execute(f"CREATE TABLE IF NOT EXISTS main.{resolved} ({', '.join(cols)})")
    for name, cols in BOOKKEEPING_COLUMNS.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {quote_ident(name)} ({', '.join(cols)})")
    for name, definition in missing_columns(con):
        con.execute(f"ALTER TABLE {quote_ident(name)} ADD COLUMN {definition}")


def missing_columns(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(table, column definition) of each bookkeeping column an existing table of an older store lacks."""
    present = set(con.execute("SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'main'"
                              ).fetchall())
    tables = {table for table, _ in present}
    return [(name, definition) for name, cols in BOOKKEEPING_COLUMNS.items() if name in tables
            for definition in cols if (name, definition.split()[0]) not in present]


def first_row(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> tuple | None:
    """The first row of a query (the result is read to the end, as DuckDB 2 requires)."""
    rows = con.execute(sql, params or {}).fetchall()
    return rows[0] if rows else None


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None):
    """The single value of a one-row, one-column query."""
    row = first_row(con, sql, params)
    return None if row is None else row[0]


_relation_serials = itertools.count()


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, tables: dict) -> Iterator[dict[str, str]]:
    """`tables` (Arrow tables, each under the name a query's {relation} token gives it) registered on `con`
    under fresh names for the duration; yields each relation's name. Two callers on one connection never meet."""
    serial = next(_relation_serials)
    names = {relation: f"_{relation}_{serial}" for relation in tables}
    for relation, table in tables.items():
        con.register(names[relation], table)
    try:
        yield names
    finally:
        for name in names.values():
            con.unregister(name)


def arrow_table(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None):
    """A query's result as an Arrow table (without the extra copy of a DB-API result)."""
    return con.sql(sql, params=params or None).to_arrow_table()


def frame(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None):
    """A query's result as a Polars DataFrame."""
    import polars as pl

    return pl.from_arrow(arrow_table(con, sql, params))


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows per canonical table."""
    return {name: scalar(con, f"SELECT count(*) FROM {quote_ident(name)}") for name in TABLES}
