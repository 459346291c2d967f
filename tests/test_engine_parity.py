"""Parity: the same questions on DuckDB and on a local Spark session give the same answers.

Every SQL file on the tiny store of the SQL guard; every ladder's history, the lead frame and the
metrics document on hand-made edge cases; `funnel metrics` (byte-identical JSON), `funnel leads`
(the same rows) and every other read-only command (byte-identical output) on a generated sample with
its lead model; the per-group runner. Counts exact, floats to 1e-9. Marked
`spark`: skipped, with the reason, where pyspark or Java is missing (see tests/conftest.py).
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from polars.testing import assert_frame_equal

from funnel import schema as sc
from funnel.analyses.crm_audit import CrmAudit, crm_audit
from funnel.analyses.report import metrics_report
from funnel.cli.main import main
from funnel.config import load_settings
from funnel.engine.parquet import write_tables
from funnel.engine.spark import SparkEngine
from funnel.filters import Filters
from funnel.ingest.sample import sample_tables
from funnel.model.build import build_funnel_entries, build_scoring_parts
from funnel.model.history import lead_frame, stage_history
from funnel.model.materialised import (
    audit_records_are_current,
    funnel_is_current,
    stored_funnel_history,
    write_audit_records,
)
from funnel.model.records import computed_audit_records
from funnel.model.stages import computed_funnel_history
from funnel.schema import AUDIT_RECORDS_PART, MODEL_PART_TABLES
from funnel.store.db import connect, quote_ident
from funnel.store.queries import sql_text
from tests.stores import store
from tests.test_sql_files import (
    FILES,
    FRAGMENTS,
    FRAMES,
    PARAM_VALUES,
    RELATIONS,
    body,
    params_of,
    tiny_store,
)

pytestmark = pytest.mark.spark

# Run by the store build on DuckDB, never on an engine (yet): the importer's statements (rowid, temporary
# tables), the identity build (raw.* tables and its work tables; Spark reads its resolved tables) and the
# same-lead capture panel (every imported version, in raw.leads__history). They are still translated by
# tests/test_engine_translate.py.
STORE_ONLY = {name for name in FILES if name.startswith(("import_", "identity_"))} | {
    "capture_lead_versions", "view_state", "model_intent_days", "model_surge_days", "model_activity_days",
    "model_engaged"}


def same(duck: pl.DataFrame, spark: pl.DataFrame, *, ordered: bool = False) -> None:
    """Equal values (types may differ in width: int32 vs int64), floats to 1e-9."""
    assert duck.columns == spark.columns
    assert duck.height == spark.height
    if not ordered and duck.height:
        sortable = [c for c, t in duck.schema.items() if not isinstance(t, (pl.List, pl.Struct, pl.Array))]
        duck, spark = (f.sort(sortable, nulls_last=True) for f in (duck, spark))
    assert_frame_equal(duck, spark, check_dtypes=False, rel_tol=1e-9, abs_tol=1e-9)


def spark_engine(session, con, folder: Path) -> SparkEngine:
    write_tables(con, folder)
    return SparkEngine.open(str(folder))


# ------------------------------------------------------------------------------ every SQL file


@pytest.fixture(scope="module")
def tiny(spark_session, tmp_path_factory):
    con = tiny_store()
    engine = spark_engine(spark_session, con, tmp_path_factory.mktemp("tiny"))
    for token, rows in FRAMES.items():
        con.register(token, rows.to_arrow())
        engine.register(token, rows.to_arrow())
    yield con, engine
    engine.close()
    con.close()


@pytest.mark.parametrize("name", sorted(set(FILES) - STORE_ONLY))
def test_every_sql_file_gives_the_same_rows(tiny, name):
    con, engine = tiny
    tokens = set(re.findall(r"\{([a-z_]+)\}", body(name)))
    markers = set(re.findall(r"/\*@([a-z_]+)\*/", body(name)))
    fragments = {m: FRAGMENTS.get(name, {}).get(m, "") for m in markers}
    sql = sql_text(name, fragments=fragments, **{t: RELATIONS.get(t, t) for t in tokens})
    params = {p: PARAM_VALUES[p] for p in params_of(sql)}
    duck = pl.from_arrow(con.sql(sql, params=params or None).to_arrow_table())
    same(duck, pl.from_arrow(engine.collect(sql, params)))


# ------------------------------------------------------------------------------ each rewrite

EDGE_ROWS = ("(VALUES ('a', 1, TIMESTAMP '2026-01-01 23:30:00', 'x@y.test'), (NULL, 2, TIMESTAMP '2026-01-02 00:30:00', "
             "'x@y.test\n'), ('b', 3, NULL, NULL), ('a', NULL, TIMESTAMP '2026-01-03 12:00:00', 'bad')) AS t(k, v, ts, e)")
REWRITE_QUERIES = {
    "positions": "SELECT k, list_position($s, k) AS p, list_extract($s, v) AS x, $w[list_position($s, k)] AS w, "
                 "list_extract($s, 0) AS zero FROM " + EDGE_ROWS,
    "day boundaries": "SELECT date_diff('day', ts, TIMESTAMP '2026-01-02 00:10:00') AS d, epoch_us(ts) AS us FROM "
                      + EDGE_ROWS,
    "arg_max skips NULL": "SELECT arg_max(k, v) AS top, arg_min(k, v) AS bottom, any_value(k) AS some, "
                          "arg_max(k, (ts, v)) AS newest FROM " + EDGE_ROWS,
    "full match": "SELECT e, regexp_full_match(e, '[^@\\s]+@[^@\\s]+\\.[a-z]+') AS ok FROM " + EDGE_ROWS,
    "lists keep NULL": "SELECT list(DISTINCT k ORDER BY k) AS ks, string_agg(DISTINCT k, ',' ORDER BY k) AS s, "
                       "array_to_string(list(DISTINCT k ORDER BY k), ';') AS joined FROM " + EDGE_ROWS,
    "ordered window list": "SELECT v, list(k) OVER (ORDER BY v ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED "
                           "FOLLOWING) AS ks, count(DISTINCT k) OVER (PARTITION BY e IS NULL) AS n FROM " + EDGE_ROWS,
    "percentiles": "SELECT quantile_cont(v, 0.8) AS p80, median(v) AS mid, "
                   "percentile_cont(0.25) WITHIN GROUP (ORDER BY v) AS p25 FROM " + EDGE_ROWS,
    "qualify": "SELECT * FROM " + EDGE_ROWS + " QUALIFY row_number() OVER (PARTITION BY k ORDER BY v NULLS LAST) = 1",
}


@pytest.mark.parametrize("name", sorted(REWRITE_QUERIES))
def test_each_rewrite_gives_duckdbs_values(tiny, name):
    con, engine = tiny
    sql = REWRITE_QUERIES[name]
    params = {p: v for p, v in {"s": ["a", "b", "c"], "w": [1.5, 2.5, 3.5]}.items() if f"${p}" in sql}
    duck = pl.from_arrow(con.sql(sql, params=params or None).to_arrow_table())
    same(duck, pl.from_arrow(engine.collect(sql, params)))


# ------------------------------------------------------------------------------ edge cases


def edge_store():
    """Hand-made traps: activities either side of midnight (day boundaries), an activity without a
    type, two stage events at one moment, a lead off the ladder, a lost and an open deal, an
    attributes map with a key only some leads have, a first-touch campaign that is NULL."""
    con = store(
        leads=[
            {"lead_id": "L1", "email": "a@x.test", "created_at": datetime(2026, 1, 1, 23, 30), "source": "web",
             "lifecycle_stage": "sql", "title": "VP Sales", "account_id": "A"},
            {"lead_id": "L2", "email": "b@x.test", "created_at": datetime(2026, 1, 2, 0, 30), "source": None,
             "lifecycle_stage": "prospect"},
            {"lead_id": "L3", "email": "c@y.test", "created_at": datetime(2026, 1, 3), "source": "event",
             "lifecycle_stage": "lead", "employees": 250},
            {"lead_id": "L4", "created_at": None, "lifecycle_stage": "customer"},
        ],
        accounts=[{"account_id": "A", "name": "Acme", "domain": "acme.test", "industry": "software", "employees": 40}],
        stage_events=[
            {"lead_id": "L1", "ladder": "lifecycle", "stage": "lead", "entered_at": datetime(2026, 1, 2)},
            {"lead_id": "L1", "ladder": "lifecycle", "stage": "mql", "entered_at": datetime(2026, 1, 5)},
            {"lead_id": "L1", "ladder": "lifecycle", "stage": "sql", "entered_at": datetime(2026, 1, 5)},
            {"lead_id": "L3", "ladder": "lifecycle", "stage": "opportunity", "entered_at": datetime(2026, 1, 8)},
            {"lead_id": "L3", "ladder": "lifecycle", "stage": "lead", "entered_at": datetime(2026, 1, 20),
             "reason": "no budget"},
        ],
        activities=[
            {"activity_id": "A1", "lead_id": "L1", "activity_type": "page_view", "occurred_at": datetime(2026, 1, 1, 23, 50)},
            {"activity_id": "A2", "lead_id": "L1", "activity_type": "page_view", "occurred_at": datetime(2026, 1, 2, 0, 10)},
            {"activity_id": "A3", "lead_id": "L1", "activity_type": "page_view", "occurred_at": datetime(2026, 1, 2, 0, 10)},
            {"activity_id": "A4", "lead_id": "L1", "activity_type": "demo_request", "occurred_at": datetime(2026, 1, 4),
             "campaign": None},
            {"activity_id": "A5", "lead_id": "L2", "activity_type": None, "occurred_at": datetime(2026, 1, 3)},
            {"activity_id": "A6", "lead_id": "L2", "activity_type": "email_open", "occurred_at": datetime(2026, 1, 3),
             "campaign": "spring"},
            {"activity_id": "A7", "lead_id": "L3", "activity_type": "form_fill", "occurred_at": datetime(2026, 1, 6)},
            {"activity_id": "A8", "lead_id": "L3", "activity_type": "page_view", "occurred_at": datetime(2026, 3, 30)},
        ],
        deals=[
            {"deal_id": "D1", "lead_id": "L3", "created_at": datetime(2026, 1, 8), "closed_at": datetime(2026, 1, 19),
             "won": False, "lost_reason": "budget", "amount": 10.0},
            {"deal_id": "D2", "lead_id": "L1", "created_at": datetime(2026, 1, 9), "amount": 2.5},
        ],
    )
    con.execute("UPDATE leads SET attributes = MAP {'tier': 'gold'} WHERE lead_id = 'L1'")
    con.execute("UPDATE leads SET attributes = MAP {'region': 'emea'} WHERE lead_id = 'L3'")
    return con


@pytest.fixture(scope="module")
def edges(spark_session, tmp_path_factory):
    con = edge_store()
    engine = spark_engine(spark_session, con, tmp_path_factory.mktemp("edges"))
    yield con, engine
    engine.close()
    con.close()


@pytest.mark.parametrize("ladder", sc.LADDERS)
def test_stage_history_is_the_same(edges, ladder):
    con, engine = edges
    settings = load_settings(None)
    duck = stage_history(con, ladder=ladder, settings=settings, as_of=date(2026, 4, 1))
    spark = stage_history(engine, ladder=ladder, settings=settings, as_of=date(2026, 4, 1))
    assert duck.height > 0
    same(duck, spark, ordered=True)


def test_lead_frame_is_the_same(edges):
    con, engine = edges
    settings = load_settings(None)
    duck = lead_frame(con, settings=settings, as_of=date(2026, 4, 1))
    same(duck, lead_frame(engine, settings=settings, as_of=date(2026, 4, 1)), ordered=True)


@pytest.mark.parametrize(("ladder", "by"), [(sc.LIFECYCLE, "source"), (sc.FUNNEL, "source"),
                                           (sc.LIFECYCLE, "attr:tier"), (sc.LIFECYCLE, "seniority"),
                                           (sc.LIFECYCLE, "size_band")])
def test_metrics_document_is_the_same(edges, ladder, by):
    """Segments read in the tasks from the leads, their attributes (a map) and their accounts."""
    con, engine = edges
    settings = load_settings(None)
    filters = Filters(as_of=date(2026, 4, 1), ladder=ladder)
    duck = json.dumps(metrics_report(con, filters, settings=settings, by=by))
    assert duck == json.dumps(metrics_report(engine, filters, settings=settings, by=by))


def test_attribute_keys_that_differ_in_case_only_stay_apart(spark_session, tmp_path):
    """Spark compares names without case; the tasks' inputs are renamed by position, so `Tier` and `tier` stay
    two segments there as in DuckDB."""
    con = edge_store()
    con.execute("UPDATE leads SET attributes = MAP {'Tier': 'silver'} WHERE lead_id = 'L2'")
    engine = spark_engine(spark_session, con, tmp_path / "cased")
    try:
        settings = load_settings(None)
        filters = Filters(as_of=date(2026, 4, 1), ladder=sc.LIFECYCLE)
        for by in ("attr:tier", "attr:Tier"):
            duck = metrics_report(con, filters, settings=settings, by=by)
            assert [r["segment"] for r in duck["segments"]] == [None, "(unknown)", "gold" if by == "attr:tier"
                                                                else "silver"]
            assert json.dumps(metrics_report(engine, filters, settings=settings, by=by)) == json.dumps(duck)
    finally:
        engine.close()
        con.close()


def test_both_engines_run_a_sql_file_with_bound_parameters(edges):
    con, engine = edges
    from funnel.engine.duckdb import DuckDBEngine

    duck_engine = DuckDBEngine(con, "edges")
    assert set(duck_engine.tables()) <= set(engine.tables())
    params = {"stages": ["subscriber", "lead", "mql", "sql", "opportunity", "customer"]}
    duck = duck_engine.run("lead_facts", params)
    assert duck.height == 4 and duck.filter(pl.col("lead_id") == "L2")["lifecycle_rank"].to_list() == [None]
    same(duck, engine.run("lead_facts", params))


def rows_per_lead(table: pa.Table) -> pa.Table:
    frame = pl.from_arrow(table).group_by(sc.LEAD_ID).agg(pl.len().cast(pl.Int64).alias("n"))
    return frame.to_arrow()


def test_per_group_runs_a_python_function_per_lead_group(edges):
    con, engine = edges
    from funnel.engine.duckdb import DuckDBEngine

    schema = pa.schema([(sc.LEAD_ID, pa.string()), ("n", pa.int64())])
    query = [("SELECT lead_id, activity_id FROM activities", {})]
    duck = DuckDBEngine(con, "edges").per_group(query, key=sc.LEAD_ID, groups=4, function=rows_per_lead, schema=schema)
    spark = engine.per_group(query, key=sc.LEAD_ID, groups=4, function=rows_per_lead, schema=schema)
    same(pl.from_arrow(duck), pl.from_arrow(spark))
    assert dict(zip(*pl.from_arrow(spark).sort(sc.LEAD_ID).to_dict(as_series=False).values(), strict=True)) == {
        "L1": 4, "L2": 2, "L3": 2}


def test_a_result_past_the_row_cap_is_an_error(edges):
    from funnel.errors import EngineError

    _, engine = edges
    engine.max_rows, saved = 2, engine.max_rows
    try:
        with pytest.raises(EngineError, match="more than 2 rows"):
            engine.collect("SELECT lead_id FROM leads")
    finally:
        engine.max_rows = saved


# A local driver given too little memory for a result, in its own process (the session is one per process).
OUT_OF_MEMORY = """
from funnel.engine.spark import SparkEngine, spark_session
from funnel.errors import EngineError
session = spark_session()
try:
    SparkEngine(session.newSession(), "unused")._bounded(
        session.range(12_000_000).selectExpr("id", "repeat('x', 100) AS pad"), None)
except EngineError as error:
    print("@@", error, error.hint)
"""


def test_a_driver_out_of_memory_is_an_error_naming_the_setting_not_a_hang(spark_session, tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "FUNNEL_SPARK_DRIVER_MEMORY": "512m"}
    env.pop("FUNNEL_SPARK_REMOTE", None)
    done = subprocess.run([sys.executable, "-c", OUT_OF_MEMORY], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, check=False)
    said = done.stdout.rpartition("@@")[2]
    assert "the Spark driver stopped while a result came back" in said, done.stderr[-2000:]
    assert "512m" in said and "FUNNEL_SPARK_DRIVER_MEMORY" in said


# ------------------------------------------------------------------------------ the CLI on a sample


@pytest.fixture(scope="module")
def sample(spark_session, tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("sample")
    path = folder / "funnel.duckdb"
    con = connect(path)
    for name, frame in sample_tables(leads=250, seed=3).items():
        columns = ", ".join(quote_ident(c) for c in frame.columns)
        con.register("_rows", frame.to_arrow())
        con.execute(f"INSERT INTO {quote_ident(name)} ({columns}) SELECT {columns} FROM _rows")
        con.unregister("_rows")
    con.close()
    assert main(["export-tables", "--db", str(path), "--out", str(folder / "parquet")]) == 0
    return path, folder / "parquet"


def output(capsys, *args: str) -> str:
    assert main(list(args)) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("extra", [("--ladder", "lifecycle"), ("--ladder", "funnel", "--by", "source")])
def test_funnel_metrics_json_is_byte_identical(sample, capsys, extra):
    db, data = sample
    duck = output(capsys, "metrics", "--db", str(db), *extra)
    spark = output(capsys, "metrics", "--engine", "spark", "--data", str(data), *extra)
    assert json.loads(duck)["distribution"]
    assert spark == duck


def test_funnel_leads_gives_the_same_rows(sample, capsys):
    db, data = sample
    duck = output(capsys, "leads", "--db", str(db), "--format", "json")
    spark = output(capsys, "leads", "--engine", "spark", "--data", str(data), "--format", "json")
    assert len(json.loads(duck)) == 250
    assert spark == duck


# ------------------------------------------------------------------------------ the lead model


@pytest.fixture(scope="module")
def modelled(sample, tmp_path_factory) -> tuple[Path, Path]:
    """The generated sample with its lead model built (funnel entries, scoring facts, intent inputs, the CRM
    audit's records), exported with it."""
    folder = tmp_path_factory.mktemp("modelled")
    path = folder / "funnel.duckdb"
    path.write_bytes(sample[0].read_bytes())
    con = connect(path)
    try:
        build_funnel_entries(con, settings=load_settings(None))
        build_scoring_parts(con, settings=load_settings(None))
        write_audit_records(con, computed_audit_records(con))
    finally:
        con.close()
    assert main(["export-tables", "--db", str(path), "--out", str(folder / "parquet")]) == 0
    return path, folder / "parquet"


def test_spark_reads_the_exported_lead_model_and_gives_the_same_figures(modelled, capsys):
    db, data = modelled
    engine = SparkEngine.open(str(data))
    try:
        settings = load_settings(None)
        assert funnel_is_current(engine, settings)
        stored = stored_funnel_history(engine, settings=settings, as_of=date(2026, 9, 30))
        con = connect(db, read_only=True)
        try:
            fresh = computed_funnel_history(con, settings=settings, as_of=date(2026, 9, 30))
        finally:
            con.close()
        assert stored is not None and stored.height == fresh.height > 0
        same(fresh, stored.select(fresh.columns), ordered=True)
    finally:
        engine.close()
    for extra in (("--ladder", "funnel", "--by", "source"), ("--ladder", "funnel", "--as-of", "2026-06-30")):
        duck = output(capsys, "metrics", "--db", str(db), *extra)
        assert output(capsys, "metrics", "--engine", "spark", "--data", str(data), *extra) == duck


def test_the_crm_audit_on_spark_reads_the_exported_records_and_is_duckdbs(modelled):
    """The CRM audit (pairs, merges, findings, summary) at two dates from the records the dataset carries, and
    from a dataset without them (computed on Spark from the tables): DuckDB's frames."""
    db, data = modelled
    bare = data.parent / "without_audit_records"
    bare.mkdir(exist_ok=True)
    for table in data.glob("*.parquet"):
        if table.stem not in MODEL_PART_TABLES[AUDIT_RECORDS_PART]:
            (bare / table.name).write_bytes(table.read_bytes())
    days = (date(2026, 9, 30), date(2026, 3, 31))
    con = connect(db, read_only=True)
    try:
        expected = [crm_audit(con, as_of=day) for day in days]
    finally:
        con.close()
    for folder, stored in ((data, True), (bare, False)):
        engine = SparkEngine.open(str(folder))
        try:
            assert audit_records_are_current(engine) is stored
            for day, duck in zip(days, expected, strict=True):
                audit = crm_audit(engine, as_of=day)
                for part in CrmAudit.__dataclass_fields__:
                    want, got = getattr(duck, part), getattr(audit, part)
                    assert got.sort(got.columns).equals(want.sort(want.columns)), (folder.name, day, part)
        finally:
            engine.close()
    assert expected[0].person_pairs.height > 0


def test_spark_counts_the_report_in_its_tasks_and_only_the_counts_come_back(modelled, monkeypatch):
    """With the lead model in the dataset, no lead's rows reach the driver for the report (the driver's own
    preparation is never called) and the figures are DuckDB's: both ladders, with segments and a segment filter."""
    from funnel.analyses import report

    db, data = modelled
    settings = load_settings(None)
    cases = [(Filters(as_of=date(2026, 9, 30), ladder=sc.LIFECYCLE), None),
             (Filters(as_of=date(2026, 6, 30), ladder=sc.FUNNEL), "source"),
             (Filters(as_of=date(2026, 9, 30), ladder=sc.FUNNEL, segments=(("source", ("Event", "Paid search")),)),
              "country")]
    con = connect(db, read_only=True)
    try:
        expected = [json.dumps(metrics_report(con, f, settings=settings, by=by)) for f, by in cases]
    finally:
        con.close()
    assert 0 < json.loads(expected[2])["segments"][0]["leads"] <= 28 + 82  # the filter keeps Event and Paid search

    def on_the_driver(*args, **kwargs):
        raise AssertionError("the report prepared every lead's rows on the driver")

    monkeypatch.setattr(report, "analysis_inputs", on_the_driver)
    engine = SparkEngine.open(str(data))
    try:
        for (f, by), duck in zip(cases, expected, strict=True):
            assert json.dumps(metrics_report(engine, f, settings=settings, by=by)) == duck
    finally:
        engine.close()


def test_a_dataset_without_the_lead_model_still_opens_and_computes(modelled, capsys, tmp_path):
    db, data = modelled
    bare = tmp_path / "bare"
    bare.mkdir()
    for table in data.glob("*.parquet"):
        if table.stem not in (sc.MODEL_STATE, sc.MODEL_FUNNEL_ENTRIES):
            (bare / table.name).write_bytes(table.read_bytes())
    engine = SparkEngine.open(str(bare))
    try:
        assert not funnel_is_current(engine, load_settings(None))
    finally:
        engine.close()
    extra = ("--ladder", "funnel", "--by", "source")
    assert output(capsys, "metrics", "--engine", "spark", "--data", str(bare), *extra) == \
        output(capsys, "metrics", "--db", str(db), *extra)


# ------------------------------------------------------------------------------ every read-only command

# Each read-only command that takes --engine, with what it writes: stdout, or the file given as {out}.
READ_ONLY = {
    "deals": ("deals", "--by", "source"),
    "rules": ("rules", "check", "--format", "json"),
    "alerts": ("alerts", "--since", "2026-06-01", "--format", "json"),
    "export": ("export", "--tool", "hubspot", "--stage", "intent", "--out", "{out}"),
    "report": ("report", "--format", "json", "--out", "{out}"),
    "review-sample": ("review-sample", "--from", "2026-01-01", "--to", "2026-09-30", "--size", "12", "--out", "{out}"),
}


def command_output(capsys, tmp_path: Path, engine: tuple[str, ...], args: tuple[str, ...]) -> tuple[int, str, bytes]:
    """(exit status, stdout, the written file's bytes) of one command on one engine."""
    out = tmp_path / ("out-spark" if "spark" in engine else "out-duckdb")
    code = main([*(a.replace("{out}", str(out)) for a in args), *engine])
    printed = capsys.readouterr().out.replace(str(out), "{out}")
    return code, printed, out.read_bytes() if out.exists() else b""


@pytest.mark.parametrize("name", sorted(READ_ONLY))
def test_every_read_only_command_gives_byte_identical_output(modelled, capsys, tmp_path, name):
    db, data = modelled
    duck = command_output(capsys, tmp_path, ("--db", str(db)), READ_ONLY[name])
    spark = command_output(capsys, tmp_path, ("--engine", "spark", "--data", str(data)), READ_ONLY[name])
    assert duck[1] or duck[2], "the command wrote something"
    assert spark == duck


def test_a_dataset_lacking_a_model_parts_table_computes_that_part(modelled, capsys, tmp_path):
    """model_state names the scoring facts, the dataset lacks their table: Spark computes the facts from the
    tables (the same leads) instead of reading a table that is not there."""
    db, data = modelled
    partial = tmp_path / "partial"
    partial.mkdir()
    for table in data.glob("*.parquet"):
        if table.stem != sc.MODEL_SCORING_FACTS:
            (partial / table.name).write_bytes(table.read_bytes())
    assert (data / f"{sc.MODEL_SCORING_FACTS}.parquet").exists()
    duck = output(capsys, "leads", "--db", str(db), "--format", "json")
    assert output(capsys, "leads", "--engine", "spark", "--data", str(partial), "--format", "json") == duck
    assert output(capsys, "leads", "--engine", "spark", "--data", str(data), "--format", "json") == duck
