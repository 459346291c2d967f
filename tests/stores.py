"""Tiny in-memory stores for given/expect tests: rows written as dicts, typed by the schema."""

from __future__ import annotations

import polars as pl

from funnel import schema as sc
from funnel.store.db import memory_connection


def store(**tables: list[dict]):
    """A fresh in-memory store holding the given rows (table name → list of row dicts)."""
    con = memory_connection()
    for name, rows in tables.items():
        if not rows:
            continue
        spec = sc.TABLES[name]
        columns = list(dict.fromkeys(c for row in rows for c in row))
        incoming = pl.DataFrame([{c: row.get(c) for c in columns} for row in rows],
                                schema={c: spec.column(c).dtype for c in columns}, orient="row")
        con.register("incoming", incoming.to_arrow())
        con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM incoming").fetchall()
        con.unregister("incoming")
    return con
