"""The DuckDB → Spark translation, without Java or pyspark: every SQL file translates with only
known-safe functions, each rewrite gives the Spark form whose results match DuckDB's, and a function
without a checked translation is refused by name. The engine choice never falls back."""

from __future__ import annotations

import re

import pytest

from funnel.engine import engine_name, open_engine
from funnel.engine.translate import REWRITES, UntranslatableSQL, spark_sql
from funnel.errors import EngineError
from funnel.store.queries import sql_text
from tests.test_sql_files import FILES, FRAGMENTS, RELATIONS, body


def filled(name: str) -> str:
    """The file's query as its callers fill it (relations quoted, fragments in place)."""
    tokens = set(re.findall(r"\{([a-z_]+)\}", body(name)))
    markers = set(re.findall(r"/\*@([a-z_]+)\*/", body(name)))
    fragments = {m: FRAGMENTS.get(name, {}).get(m, "") for m in markers}
    if fragments.get("columns") == "COLUMNS":
        fragments["columns"] = '"lead_id", "email"'
    return sql_text(name, fragments=fragments, **{t: RELATIONS.get(t, t) for t in tokens})


def one_line(sql: str) -> str:
    return " ".join(sql.split()).upper()


@pytest.mark.parametrize("name", FILES)
def test_every_sql_file_translates_with_known_safe_functions(name):
    query = spark_sql(filled(name))
    assert query.sql.strip()
    assert "$" not in re.sub(r"'[^']*'", "", query.sql), "a DuckDB $param survived"
    for duckdb_only in ("LIST_POSITION", "LIST_EXTRACT", "MAP_EXTRACT_VALUE", "ARG_MAX", "ARG_MIN",
                        "PERCENTILE_APPROX", "STRING_AGG", "DATE_DIFF", "LIST_CONTAINS"):
        assert duckdb_only + "(" not in query.sql.upper(), f"{name}.sql: {duckdb_only} reached Spark"


def test_the_translation_test_sees_every_file():
    from funnel.store.queries import SQL_DIR

    assert set(FILES) == {p.stem for p in SQL_DIR.glob("*.sql")}


@pytest.mark.parametrize(("duckdb", "spark"), [
    # Spark's array_position gives 0 (BIGINT) for "not found": NULL (INTEGER) as in DuckDB.
    ("select list_position($s, x) from t", "SELECT CAST(NULLIF(ARRAY_POSITION(:s, x), 0) AS INT) FROM t"),
    # len(list) is size(); a string's length stays length().
    ("select len(list_filter($b, lambda v: v < e)), length(name) from t",
     "SELECT SIZE(FILTER(:b, v -> v < e)), LENGTH(name) FROM t"),
    # A map lookup on attributes.
    ("select map_extract_value(attributes, $k0) from t", "SELECT attributes[:k0] FROM t"),
    # 1-based subscripts, whatever the index (SQLGlot alone shifts only indexes it can type).
    ("select $w[list_position($t, a)] from t",
     ("SELECT IF(CAST(NULLIF(ARRAY_POSITION(:t, a), 0) AS INT) = 0, NULL, "
     "ELEMENT_AT(:w, CAST(NULLIF(ARRAY_POSITION(:t, a), 0) AS INT))) FROM t")),
    ("select list_extract($s, i) from t", "SELECT IF(i = 0, NULL, ELEMENT_AT(:s, i)) FROM t"),
    # Day boundaries, not whole days.
    ("select date_diff('day', a, b) from t", "SELECT DATEDIFF(CAST(b AS DATE), CAST(a AS DATE)) FROM t"),
    # Exact percentiles, never percentile_approx.
    ("select quantile_cont(x, 0.8), median(x) from t", "SELECT PERCENTILE(x, 0.8), MEDIAN(x) FROM t"),
    # DuckDB's arg_max skips NULL args; a row of values sorts a NULL field last.
    ("select arg_max(a, v) from t", "SELECT MAX_BY(a, IF(a IS NULL, NULL, v)) FROM t"),
    ("select arg_max(a, (v, w)) from t",
     "SELECT MAX_BY(a, IF(a IS NULL, NULL, STRUCT(v IS NULL, v, w IS NULL, w))) FROM t"),
    ("select any_value(a) from t", "SELECT ANY_VALUE(a, TRUE) FROM t"),
    ("select regexp_replace(a, '\\s+', ' ', 'g') from t", "SELECT REGEXP_REPLACE(a, '\\\\s+', ' ') FROM t"),
    ("select string_agg(distinct p, '; ' order by p) from t",
     "SELECT IF(SIZE(ARRAY_SORT(COLLECT_SET(p))) = 0, NULL, ARRAY_JOIN(ARRAY_SORT(COLLECT_SET(p)), '; ')) FROM t"),
    ("select regexp_full_match(e, 'a+') from t", "SELECT e RLIKE '\\\\A(?:a+)\\\\z' FROM t"),
    ("select epoch_us(t) from t", "SELECT UNIX_MICROS(CAST(t AS TIMESTAMP_LTZ)) FROM t"),
    ("select array_to_string(l, ', ') from t", "SELECT ARRAY_JOIN(l, ', ') FROM t"),
    ("with c as materialized (select a from t) select * from c", "WITH c AS (SELECT a FROM t) SELECT * FROM c"),
    ("select row_number() over (partition by a) from t", "SELECT ROW_NUMBER() OVER (PARTITION BY a ORDER BY a NULLS LAST) FROM t"),
    ("select * from t qualify row_number() over (partition by a order by b) = 1",
     ("SELECT * EXCEPT (_w) FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY a ORDER BY b NULLS LAST) AS _w FROM t) AS _t "
     "WHERE _w = 1")),
])
def test_rewrites(duckdb, spark):
    assert one_line(spark_sql(duckdb).sql) == one_line(spark)


def test_every_rewrite_is_documented():
    for name, (rewrite, _) in REWRITES.items():
        assert rewrite.duckdb and rewrite.spark and rewrite.why, name


@pytest.mark.parametrize(("sql", "named"), [
    ("select strftime(t, '%Y') from t", "strftime"),
    ("select list_reverse($s) from t", "list_reverse"),
    ("select date_diff('month', a, b) from t", "date_diff('month'"),
    ("select regexp_replace(a, 'x', 'y') from t", "first match"),
    ("select string_agg(p, ',') from t", "string_agg"),
    ("select list(x) from t", "list("),
    ("select regexp_full_match(e, p) from t", "literal pattern"),
])
def test_a_function_without_a_checked_translation_is_refused_by_name(sql, named):
    with pytest.raises(UntranslatableSQL) as caught:
        spark_sql(sql)
    assert named in caught.value.message()


def test_parameters_are_bound_by_name():
    query = spark_sql("select * from leads where created_at < $until and list_contains($ids, lead_id)")
    assert query.params == ("ids", "until")
    assert ":until" in query.sql and ":ids" in query.sql


def test_engine_choice(monkeypatch):
    monkeypatch.delenv("FUNNEL_ENGINE", raising=False)
    assert engine_name(None) == "duckdb"
    monkeypatch.setenv("FUNNEL_ENGINE", "spark")
    assert engine_name(None) == "spark"
    assert engine_name("duckdb") == "duckdb"
    with pytest.raises(EngineError, match="unknown engine"):
        engine_name("ibis")


def test_spark_without_data_is_an_error_never_duckdb(monkeypatch, tmp_path):
    monkeypatch.delenv("FUNNEL_SPARK_DATA", raising=False)
    with pytest.raises(EngineError, match="where the tables are"):
        open_engine("spark")
    with pytest.raises(EngineError, match="does not exist"):
        open_engine("spark", data=str(tmp_path / "nowhere"))


def test_the_cli_says_spark_cannot_run_in_one_line(tmp_path, capsys, monkeypatch):
    from funnel.cli.main import main

    monkeypatch.delenv("FUNNEL_SPARK_DATA", raising=False)
    code = main(["metrics", "--engine", "spark", "--data", str(tmp_path / "missing")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("funnel metrics:") and "does not exist" in err and err.count("\n") == 1
