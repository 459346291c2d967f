"""What the store holds: rows and date ranges per table, and what each analysis can use."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import polars as pl

from funnel.schema import IMPORTS, TABLES, Kind
from funnel.store.db import first_row, frame, quote_ident
from funnel.store.queries import sql_text

# The date column that spans each table's history.
DATE_COLUMN = {"leads": "created_at", "accounts": None, "stage_events": "entered_at", "activities": "occurred_at",
               "deals": "created_at", "intent_signals": "observed_at"}


SPAN_SCHEMA = {"table": pl.String, "rows": pl.Int64, "first": pl.Datetime("us"), "last": pl.Datetime("us"),
               "newest": pl.Datetime("us")}


def table_spans(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """One row per canonical table (SPAN_SCHEMA): rows, the first and last date of its history, and its newest
    event timestamp (the latest of any timestamp column but next-action due dates, which lie ahead)."""
    rows = []
    for name, spec in TABLES.items():
        date_col = DATE_COLUMN[name]
        span = f"min({quote_ident(date_col)}), max({quote_ident(date_col)})" if date_col else "NULL::TIMESTAMP, NULL::TIMESTAMP"
        stamps = [f"max({quote_ident(c.name)})" for c in spec.columns
                  if c.kind == Kind.TIMESTAMP and c.name != "next_action_at"]
        newest = (f"greatest({', '.join(stamps)})" if len(stamps) > 1  # Spark's greatest takes two or more
                  else stamps[0] if stamps else "NULL::TIMESTAMP")
        n, first, last, latest = first_row(con, f"SELECT count(*), {span}, {newest} FROM {quote_ident(name)}")
        rows.append({"table": name, "rows": n, "first": first, "last": last, "newest": latest})
    return pl.DataFrame(rows, schema=SPAN_SCHEMA)


def data_inventory_of(spans: pl.DataFrame) -> pl.DataFrame:
    """One row per canonical table: rows, and the first and last date of its history (from `table_spans`)."""
    return spans.drop("newest")


def newest_of(spans: pl.DataFrame):
    """The newest event timestamp in the data (the default as-of date) from `table_spans`; None when empty."""
    return spans.get_column("newest").max()


def data_inventory(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """One row per canonical table: rows, and the first and last date of its history."""
    return data_inventory_of(table_spans(con))


def newest_timestamp(con: duckdb.DuckDBPyConnection):
    """The newest event timestamp in the data (the default as-of date), or None for an empty store."""
    return newest_of(table_spans(con))


def store_summary(con: duckdb.DuckDBPyConnection) -> str:
    """The `funnel info` text: tables with rows and date ranges, then the import history."""
    inventory = data_inventory(con)
    lines = ["table            rows        first                last"]
    for r in inventory.iter_rows(named=True):
        first = r["first"].isoformat(sep=" ") if r["first"] else "-"
        last = r["last"].isoformat(sep=" ") if r["last"] else "-"
        lines.append(f"{r['table']:<16} {r['rows']:>10}  {first:<20} {last}")
    history = import_history(con)
    lines.append("")
    lines.append(f"imports: {history.height}")
    for r in history.iter_rows(named=True):
        state = "removed" if r["removed_at"] else "active"
        lines.append(f"  #{r['import_id']} {r['file_name']} → {r['table_name']}: {r['rows']} rows, "
                     f"{r['added']} added, {r['updated']} updated ({state}, {r['imported_at']:%Y-%m-%d %H:%M})")
    return "\n".join(lines)


def import_history(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """One row per import, newest first."""
    return frame(con, sql_text("import_history", imports=IMPORTS))


def data_days(inventory: pl.DataFrame, newest) -> tuple[date, date] | None:
    """(the first day of any table's history, the day of the newest timestamp) from a `data_inventory` frame
    and `newest_timestamp`; None for an empty store."""
    if newest is None:
        return None
    last = newest.date() if isinstance(newest, datetime) else newest
    first = inventory.get_column("first").drop_nulls().min()
    first = first.date() if isinstance(first, datetime) else last
    return min(first, last), last
