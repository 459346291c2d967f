"""The engine boundary: where the store's tables live and where queries run.

Two engines answer the same questions: DuckDB (the store file, the default, today's code path and
speed) and Spark (a local session, a cluster, or Spark Connect `sc://host:port`, reading the canonical
tables from a Parquet folder or a catalog database). Each engine lists its tables, runs a SQL file
from `funnel/store/sql/` (loaded only through `funnel.store.queries.sql_text`; Spark gets it through
`translate.spark_sql`) with bound parameters, collects a bounded result as Arrow/Polars, and runs a
Python function per group of leads (Spark: `groupBy(bucket).applyInArrow`, inside the tasks). Both
also answer the small DuckDB connection subset the model and the analyses read through
(`sql`, `execute`, `register`, `unregister`), so those take either engine as their `con`.

An engine asked for is the engine used: a missing pyspark, Java or data folder is an error, never
a silent fall back to DuckDB. May import the store and the foundation (the model and the analyses
import it).
"""

from __future__ import annotations

import os
from pathlib import Path

from funnel.engine.duckdb import DuckDBEngine
from funnel.errors import EngineError

__all__ = ["ENGINES", "DuckDBEngine", "EngineError", "bound_rows", "dataset_version", "engine_caption", "engine_name",
           "is_spark", "open_engine", "spark_data", "too_many_rows"]

ENGINES = ("duckdb", "spark")


def engine_name(asked: str | None = None) -> str:
    """The engine to use: the one asked for (--engine), else $FUNNEL_ENGINE, else duckdb."""
    name = (asked or os.environ.get("FUNNEL_ENGINE") or "duckdb").strip().lower()
    if name not in ENGINES:
        raise EngineError(f"unknown engine {name!r}", hint=f"Use one of: {', '.join(ENGINES)}")
    return name


def spark_data(asked: str | None = None) -> str | None:
    """Where Spark reads the tables: the one asked for (--data), else $FUNNEL_SPARK_DATA."""
    return asked or os.environ.get("FUNNEL_SPARK_DATA") or None


def open_engine(name: str, *, db: Path | str | None = None, data: str | None = None):
    """An open engine: DuckDB on the store file `db` (read-only), or Spark on the tables at `data`
    (a Parquet folder, or `catalog:<database>`; default $FUNNEL_SPARK_DATA)."""
    if name == "duckdb":
        return DuckDBEngine.open(db)
    if name == "spark":
        from funnel.engine.spark import SparkEngine

        return SparkEngine.open(spark_data(data))
    raise EngineError(f"unknown engine {name!r}", hint=f"Use one of: {', '.join(ENGINES)}")


def too_many_rows(cap: int) -> EngineError:
    """The error for a result of more than `cap` rows coming back to this machine ($FUNNEL_SPARK_MAX_ROWS)."""
    return EngineError(f"a result of more than {cap:,} rows would come back to this machine",
                       hint="Raise FUNNEL_SPARK_MAX_ROWS, or narrow the question")


def bound_rows(con, rows: int) -> None:
    """Raises `too_many_rows` when `rows` rows brought back by an engine's tasks pass its bound (`max_rows`, the
    Spark engine's; DuckDB has none)."""
    cap = getattr(con, "max_rows", None)
    if cap is not None and rows > cap:
        raise too_many_rows(cap)


def is_spark(con) -> bool:
    """True when `con` is the Spark engine (the model asks to run its per-lead engine in Spark tasks)."""
    return getattr(con, "engine", "duckdb") == "spark"


def engine_caption(name: str, *, dataset: str, where: str | None = None) -> str:
    """What a reader is told the numbers come from: `Engine: DuckDB · database sample.duckdb`, or
    `Engine: Spark (local[2]) · dataset /data/tables` (`where`: the master or the Spark Connect address)."""
    if name == "spark":
        return f"Engine: Spark ({where}) · dataset {dataset}" if where else f"Engine: Spark · dataset {dataset}"
    return f"Engine: DuckDB · database {dataset}"


def dataset_version(data: str) -> tuple[tuple[str, int, int], ...]:
    """A fingerprint of a Parquet folder (each entry's name, size and modification time), so results cached
    on its tables are dropped when `funnel export-tables` rewrites them. A catalog database has none (its
    tables are read as they stand when first asked)."""
    folder = Path(data)
    if not folder.is_dir():
        return ()
    return tuple(sorted((entry.name, entry.stat().st_size, entry.stat().st_mtime_ns) for entry in folder.iterdir()))
