"""The store's tables as Parquet: the first move of a DuckDB store to where Spark reads.

`write_tables` writes one `<table>.parquet` per canonical and bookkeeping table (empty tables too,
with their columns) and per table of the lead model the store has built, streamed in record batches so
a large table never sits whole in memory.
Timestamps stay without a zone (Spark reads them as TIMESTAMP_NTZ, as DuckDB's TIMESTAMP).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from funnel.engine.spark import table_names
from funnel.errors import StoreError
from funnel.store.db import MODEL_TABLES, quote_ident

__all__ = ["write_tables"]

BATCH_ROWS = 256_000


def write_tables(con: duckdb.DuckDBPyConnection, out: Path) -> dict[str, int]:
    """Rows written per table into `out` (created when missing; existing table files are replaced)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError("the output folder cannot be created", file=str(out), hint=str(exc.strerror or exc)) from None
    written: dict[str, int] = {}
    held = {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()}
    for name in table_names():
        if name in MODEL_TABLES and name not in held:  # a part of the lead model never built in this store
            continue
        reader = con.sql(f"SELECT * FROM {quote_ident(name)}").to_arrow_reader(BATCH_ROWS)
        target = out / f"{name}.parquet"
        rows = 0
        with pq.ParquetWriter(str(target), reader.schema, compression="zstd") as writer:
            for batch in reader:
                writer.write_batch(batch)
                rows += batch.num_rows
        written[name] = rows
    return written
