"""The DuckDB engine: the store file, opened read-only, queried as it always was.

`DuckDBEngine` is a thin holder of the store's connection: `connection` is that connection itself,
so every model and analysis function runs exactly today's code path at today's speed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

from funnel.schema import TABLES
from funnel.store.db import arrow_table, connect, quote_ident, scalar
from funnel.store.queries import sql_text

__all__ = ["DuckDBEngine"]


@dataclass
class DuckDBEngine:
    connection: duckdb.DuckDBPyConnection
    dataset: str
    engine: str = "duckdb"

    @classmethod
    def open(cls, db: Path | str | None) -> DuckDBEngine:
        con = connect(db, read_only=True)
        return cls(connection=con, dataset=str(db) if db is not None else "the default store")

    def tables(self) -> list[str]:
        """The canonical tables this engine reads."""
        return list(TABLES)

    def rows_in(self, table: str) -> int:
        """How many rows one of the store's tables holds."""
        return scalar(self.connection, f"SELECT count(*) FROM {quote_ident(table)}")

    def run(self, name: str, params: dict | None = None, *, fragments: dict[str, str] | None = None,
            **relations: str) -> pl.DataFrame:
        """The result of the SQL file `name` with bound `params`."""
        return pl.from_arrow(self.collect(sql_text(name, fragments=fragments, **relations), params))

    def collect(self, sql: str, params: dict | None = None, *, limit: int | None = None) -> pa.Table:
        """A query's result as Arrow (at most `limit` rows when given)."""
        table = arrow_table(self.connection, sql, params)
        return table if limit is None else table.slice(0, limit)

    def view(self, name: str, sql: str, params: dict | None = None) -> None:
        """A query's result as the relation `name` (on one machine it is simply computed)."""
        self.connection.register(name, arrow_table(self.connection, sql, params))

    def per_group(self, inputs: Sequence[tuple[str, dict | None]], *, key: str, groups: int,
                  function: Callable[..., pa.Table], schema: pa.Schema) -> pa.Table:
        """`function` over each input query's rows; on one machine all keys form one group (the
        functions given work key by key, so the grouping never changes their result)."""
        tables = [arrow_table(self.connection, sql, params) for sql, params in inputs]
        return function(*tables).select(schema.names).cast(schema)

    def close(self) -> None:
        self.connection.close()
