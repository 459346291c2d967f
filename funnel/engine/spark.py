"""The Spark engine: the canonical tables on Spark, DuckDB-dialect queries translated and run there.

Where the session comes from: $FUNNEL_SPARK_REMOTE (`sc://host:port`, Spark Connect), else a
session already active in this process (a notebook on a cluster), else a local one on
$FUNNEL_SPARK_MASTER (default `local[2]`) with the UI off and the driver memory capped
($FUNNEL_SPARK_DRIVER_MEMORY, default 1g). One session is shared per process; each engine gets its
own `newSession()` (its own temporary views, the shared executors).

Where the tables come from: a folder with one Parquet file or folder per table (`funnel
export-tables` writes one), or `catalog:<database>` for tables already in the cluster's catalog.
Every canonical table must be there; nothing is ever read from DuckDB instead.

What comes back: only collected results, each at most $FUNNEL_SPARK_MAX_ROWS rows (default
20,000,000): a larger result is an error. `funnel metrics` gets only counts back (funnel.analyses.partials);
the commands that still bring per-lead rows back need a local driver of about 6g at a million leads, and one too
small for a result stops with an error naming $FUNNEL_SPARK_DRIVER_MEMORY.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import polars as pl
import pyarrow as pa

from funnel.engine import too_many_rows
from funnel.engine.translate import spark_sql
from funnel.errors import EngineError
from funnel.schema import MODEL_PART_TABLES, MODEL_STATE, TABLES
from funnel.store.db import BOOKKEEPING_COLUMNS, MODEL_TABLES, quote_ident, scalar
from funnel.store.queries import sql_text

__all__ = ["SESSION_CONF", "SparkEngine", "spark_session"]

# DuckDB's semantics where Spark's defaults differ (see funnel/engine/translate.py).
SESSION_CONF = {
    "spark.sql.ansi.enabled": "false",
    "spark.sql.legacy.sizeOfNull": "false",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
}
CATALOG_PREFIX = "catalog:"
DEFAULT_MAX_ROWS = 20_000_000

_shared: dict[str, object] = {}


def _pyspark():
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineError("the spark engine needs pyspark, which is not installed",
                          hint='Install the extra: pip install -e ".[spark]"') from None
    return SparkSession


def driver_memory() -> str:
    """The local driver's memory: $FUNNEL_SPARK_DRIVER_MEMORY, default 1g."""
    return os.environ.get("FUNNEL_SPARK_DRIVER_MEMORY", "1g")


def spark_session(conf: Mapping[str, str] | None = None):
    """The process's Spark session (Spark Connect, the active one, or a local one started once). `conf`: more
    settings for a local session this call starts (the tests' tuning for tiny data), ignored otherwise."""
    if "session" in _shared:
        return _shared["session"]
    SparkSession = _pyspark()
    remote = os.environ.get("FUNNEL_SPARK_REMOTE")
    if remote:
        session = SparkSession.builder.remote(remote).getOrCreate()
    else:
        session = SparkSession.getActiveSession()
        if session is None:
            if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
                raise EngineError("the local spark engine needs a Java runtime (17 or newer), and none is on PATH",
                                  hint="Install one (Debian: apt-get install openjdk-17-jre-headless), "
                                       "or set FUNNEL_SPARK_REMOTE=sc://host:port")
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            builder = (SparkSession.builder.master(os.environ.get("FUNNEL_SPARK_MASTER", "local[2]"))
                       .appName("funnel")
                       .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
                       .config("spark.driver.memory", driver_memory())
                       # A driver out of memory stops (and the command with it) instead of waiting forever
                       # on a result-reading thread that died.
                       .config("spark.driver.extraJavaOptions", "-XX:+ExitOnOutOfMemoryError")
                       .config("spark.sql.shuffle.partitions", os.environ.get("FUNNEL_SPARK_PARTITIONS", "8"))
                       .config("spark.sql.execution.arrow.pyspark.enabled", "true"))
            for key, value in {**SESSION_CONF, **(conf or {})}.items():
                builder = builder.config(key, value)
            session = builder.getOrCreate()
            session.sparkContext.setLogLevel("ERROR")
    _shared["session"] = session
    return session


def _engine_session():
    base = spark_session()
    # Spark Connect sessions cannot spawn siblings: there the engine uses the client's session.
    session = base if os.environ.get("FUNNEL_SPARK_REMOTE") else base.newSession()
    for key, value in SESSION_CONF.items():
        session.conf.set(key, value)
    return session


def table_names() -> list[str]:
    """The tables a Spark dataset holds: the canonical ones, the store's bookkeeping tables and the lead model's."""
    return [*TABLES, *BOOKKEEPING_COLUMNS, *MODEL_TABLES]


# The lead model exported with the tables: read when present, else the figures are computed from the tables
# as before; a dataset written before the model (or one of its parts) existed lacks them.
OPTIONAL_TABLES = frozenset({MODEL_STATE, *(t for tables in MODEL_PART_TABLES.values() for t in tables)})


def missing_parts(present: set[str]) -> list[str]:
    """The lead model's parts whose tables a dataset lacks: its state must not claim them (a dataset
    exported before those tables were, or with some removed), so the figures are computed from the tables."""
    return [part for part, tables in MODEL_PART_TABLES.items() if not set(tables) <= present]


class SparkResult:
    """The part of a DuckDB result the model reads: rows, one row, Arrow, Polars."""

    def __init__(self, table: pa.Table):
        self._table = table

    def fetchall(self) -> list[tuple]:
        columns = [c.to_pylist() for c in self._table.columns]
        return list(zip(*columns, strict=True)) if columns else []

    def fetchone(self) -> tuple | None:
        rows = self.fetchall()
        return rows[0] if rows else None

    def to_arrow_table(self) -> pa.Table:
        return self._table

    def pl(self) -> pl.DataFrame:
        return pl.from_arrow(self._table)

    @property
    def description(self) -> list[tuple]:
        return [(name, None, None, None, None, None, None) for name in self._table.column_names]


class SparkEngine:
    """The tables on Spark; queries in DuckDB's dialect, translated (see the module docstring)."""

    engine = "spark"

    def __init__(self, session, dataset: str, max_rows: int = DEFAULT_MAX_ROWS):
        self.session = session
        self.dataset = dataset
        self.max_rows = max_rows
        self._registered: set[str] = set()
        self._present: set[str] = set()
        self._counted: dict[str, int] = {}

    @classmethod
    def open(cls, data: str | None) -> SparkEngine:
        if not data:
            raise EngineError("the spark engine needs to know where the tables are",
                              hint="Give --data DIR (a folder written by `funnel export-tables`) "
                                   "or catalog:<database>, or set FUNNEL_SPARK_DATA")
        if not data.startswith(CATALOG_PREFIX) and not Path(data).is_dir():
            raise EngineError("the data folder does not exist", file=data,
                              hint="Write one with: funnel export-tables --db STORE --out DIR")
        engine = cls(_engine_session(), data, int(os.environ.get("FUNNEL_SPARK_MAX_ROWS", DEFAULT_MAX_ROWS)))
        engine._register_tables(data)
        return engine

    @property
    def where(self) -> str:
        """Where the session computes: the Spark Connect address, else the master (`local[2]`, `yarn`, …)."""
        return os.environ.get("FUNNEL_SPARK_REMOTE") or self.session.conf.get("spark.master", "cluster")

    @property
    def connection(self) -> SparkEngine:
        """What the model and analyses take as `con`: this engine (it answers their DuckDB subset)."""
        return self

    def _register_tables(self, data: str) -> None:
        missing, frames = [], {}
        for name in table_names():
            if data.startswith(CATALOG_PREFIX):
                database = data[len(CATALOG_PREFIX):]
                if not self.session.catalog.tableExists(name, database):
                    missing.append(name)
                    continue
                frame = self.session.table(f"{database}.{name}")
            else:
                found = [p for p in (Path(data) / f"{name}.parquet", Path(data) / name) if p.exists()]
                if not found:
                    missing.append(name)
                    continue
                frame = self.session.read.parquet(str(found[0]))
            frames[name] = frame
        for name, frame in frames.items():
            if name == MODEL_STATE:
                frame = frame.filter(~frame["part"].isin(missing_parts(set(frames))))
            frame.createOrReplaceTempView(name)
            self._present.add(name)
        missing = [name for name in missing if name not in OPTIONAL_TABLES]
        if missing:
            raise EngineError(f"the dataset lacks the table(s) {', '.join(missing)}", file=data,
                              hint="Write every table with: funnel export-tables --db STORE --out DIR")

    def rows_in(self, table: str) -> int:
        """How many rows one of the dataset's tables holds, counted once per engine (its tables do not change
        under it: a rewritten dataset is opened as a new engine)."""
        if table not in self._counted:
            self._counted[table] = scalar(self, f"SELECT count(*) FROM {quote_ident(table)}")
        return self._counted[table]

    def tables(self) -> list[str]:
        """The tables this dataset holds (every canonical one; the lead model's when it was exported too)."""
        return [name for name in table_names() if name in self._present]

    # ------------------------------------------------------------------ queries

    def frame(self, sql: str, params: dict | None = None):
        """A Spark DataFrame for one DuckDB-dialect query (lazy: nothing runs yet)."""
        query = spark_sql(sql)
        params = params or {}
        missing = [p for p in query.params if p not in params]
        if missing:
            raise EngineError(f"the query binds {', '.join('$' + p for p in missing)} and no value was given")
        args = {p: _spark_value(params[p]) for p in query.params}
        return self.session.sql(query.sql, args=args or None)

    def collect(self, sql: str, params: dict | None = None, *, limit: int | None = None) -> pa.Table:
        """A query's result as Arrow, bounded: at most `limit` rows when given, and an error past
        the engine's row cap (the driver is never asked to hold more)."""
        return self._bounded(self.frame(sql, params), limit)

    def _bounded(self, frame, limit: int | None) -> pa.Table:
        cap = self.max_rows if limit is None else min(limit, self.max_rows)
        try:
            table = frame.limit(cap + 1).toArrow() if limit is None else frame.limit(cap).toArrow()
        except Exception as exc:
            if _driver_is_alive(self.session):
                raise
            raise EngineError("the Spark driver stopped while a result came back to this machine "
                              f"(a local driver stops when its memory, {driver_memory()}, runs out)",
                              hint="Raise FUNNEL_SPARK_DRIVER_MEMORY (say 6g for a million leads), "
                                   "or use a cluster (FUNNEL_SPARK_REMOTE)") from exc
        if limit is None and table.num_rows > cap:
            raise too_many_rows(cap)
        return _plain(table)

    def run(self, name: str, params: dict | None = None, *, fragments: dict[str, str] | None = None,
            **relations: str) -> pl.DataFrame:
        """The result of the SQL file `name` with bound `params`."""
        return pl.from_arrow(self.collect(sql_text(name, fragments=fragments, **relations), params))

    def view(self, name: str, sql: str, params: dict | None = None) -> None:
        """A query as a temporary view `name`, lazy: it runs where it is read, never collected."""
        self.frame(sql, params).createOrReplaceTempView(name)
        self._registered.add(name)

    def per_group(self, inputs: Sequence[tuple[str, dict | None]], *, key: str, groups: int,
                  function: Callable[..., pa.Table], schema: pa.Schema) -> pa.Table:
        """`function(table, …)` run inside Spark tasks, once per group of `key` values, with each input
        query's rows of that group (one key's rows always in one call: rows are hashed into `groups`
        buckets by key); the outputs, combined. One or two inputs go as they are (two: a cogroup); more
        go as one union of every input's columns under names of their own, split again inside the task."""
        from pyspark.sql import functions as F
        from pyspark.sql.pandas.types import from_arrow_schema

        bucket, which = "__funnel_bucket", "__funnel_input"
        frames = [self.frame(sql, params).withColumn(bucket, F.pmod(F.xxhash64(F.col(key)), F.lit(groups)))
                  for sql, params in inputs]

        def result(*tables: pa.Table) -> pa.Table:
            return function(*(_plain(t.drop_columns([bucket])) for t in tables)).select(schema.names).cast(schema)

        def one(table: pa.Table) -> pa.Table:  # Spark reads the arity from the signature
            return result(table)

        def two(left: pa.Table, right: pa.Table) -> pa.Table:
            return result(left, right)

        spark_schema = from_arrow_schema(schema)
        if len(frames) == 1:
            out = frames[0].groupBy(bucket).applyInArrow(one, schema=spark_schema)
        elif len(frames) == 2:
            out = frames[0].groupBy(bucket).cogroup(frames[1].groupBy(bucket)).applyInArrow(two, schema=spark_schema)
        else:
            # Renamed by position (toDF), never referred to by name: names that differ only in case, or hold a
            # backtick, stay apart and intact.
            columns = [frame.columns for frame in frames]
            union = None
            for i, (frame, names) in enumerate(zip(frames, columns, strict=True)):
                own = frame.toDF(*[bucket if c == bucket else f"_{i}_{j}" for j, c in enumerate(names)]) \
                    .withColumn(which, F.lit(i))
                union = own if union is None else union.unionByName(own, allowMissingColumns=True)

            def many(table: pa.Table) -> pa.Table:
                import pyarrow.compute as pc

                tags = table.column(which)
                return result(*(table.filter(pc.equal(tags, i))
                                .select([bucket if c == bucket else f"_{i}_{j}" for j, c in enumerate(names)])
                                .rename_columns(names) for i, names in enumerate(columns)))

            out = union.groupBy(bucket).applyInArrow(many, schema=spark_schema)
        return self._bounded(out, None).cast(schema)

    # ---------------------------------------------- the DuckDB subset the model reads

    def sql(self, sql: str, params: dict | None = None) -> SparkResult:
        return SparkResult(self.collect(sql, params))

    def execute(self, sql: str, params: dict | None = None) -> SparkResult:
        return SparkResult(self.collect(sql, params))

    def register(self, name: str, table) -> None:
        """A small local table (Arrow, or anything with to_arrow) as a temporary view `name`."""
        arrow = _signed(table if isinstance(table, pa.Table) else table.to_arrow())
        self.session.createDataFrame(arrow).createOrReplaceTempView(name)
        self._registered.add(name)

    def unregister(self, name: str) -> None:
        self.session.catalog.dropTempView(name)
        self._registered.discard(name)

    def close(self) -> None:
        for name in list(self._registered):
            self.unregister(name)


def _driver_is_alive(session) -> bool:
    """Whether the session's driver still answers (a local JVM that exited does not; a Spark Connect
    server's errors come back as they are)."""
    if os.environ.get("FUNNEL_SPARK_REMOTE"):
        return True
    from py4j.protocol import Py4JError  # installed with pyspark

    try:
        session.sparkContext.getConf()
    except (Py4JError, OSError):
        return False
    return True


def _spark_value(value):
    """A bound value as Spark's parameter binding takes it (tuples as lists)."""
    if isinstance(value, tuple):
        return list(value)
    return value


def _signed(table: pa.Table) -> pa.Table:
    """Unsigned integer columns widened to int64 (Spark has no unsigned types; DuckDB widens the same way)."""
    fields = [f.with_type(pa.int64()) if pa.types.is_unsigned_integer(f.type) else f for f in table.schema]
    return table.cast(pa.schema(fields)) if fields != list(table.schema) else table


def _plain(table: pa.Table) -> pa.Table:
    """Timestamps without a zone, as DuckDB returns them (the session computes in UTC)."""
    fields = []
    for field in table.schema:
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            field = field.with_type(pa.timestamp(field.type.unit))
        fields.append(field)
    return table.cast(pa.schema(fields)) if fields != list(table.schema) else table
