"""The dashboard says which engine and dataset it reads, chooses the engine as the CLI does ($FUNNEL_ENGINE,
$FUNNEL_SPARK_DATA), never falls back to DuckDB when Spark cannot start, and on Spark shows the numbers DuckDB
shows. The Spark run is marked `spark` (skipped, with the reason, without pyspark or Java)."""

from __future__ import annotations

from pathlib import Path

import pytest

from funnel.cli.main import main
from tests.apptest import app, copied


@pytest.fixture(scope="module")
def sample_db(bundled_sample, tmp_path_factory) -> Path:
    return copied(bundled_sample, tmp_path_factory.mktemp("engine_app") / "sample.duckdb")


def sidebar_texts(at) -> list[str]:
    return [t.value for t in at.sidebar.text]


def test_the_sidebar_names_duckdb_and_the_database(sample_db, monkeypatch):
    monkeypatch.delenv("FUNNEL_ENGINE", raising=False)
    at = app(sample_db, monkeypatch, sample=False)
    at.run()
    assert not at.exception
    assert "Engine: DuckDB · database sample.duckdb" in sidebar_texts(at)
    at.switch_page("pages/data.py").run()
    assert not any("Spark" in t.value for t in at.text), "on DuckDB there is no split to explain"


@pytest.mark.parametrize(("engine", "data", "reason"), [
    ("spark", None, "needs to know where the tables are"),
    ("spark", "no-such-folder", "the data folder does not exist"),
    ("postgres", None, "unknown engine 'postgres'"),
])
def test_an_engine_that_cannot_run_stops_every_page_with_the_reason(sample_db, tmp_path, monkeypatch, engine, data,
                                                                    reason):
    monkeypatch.setenv("FUNNEL_ENGINE", engine)
    if data:
        monkeypatch.setenv("FUNNEL_SPARK_DATA", str(tmp_path / data))
    else:
        monkeypatch.delenv("FUNNEL_SPARK_DATA", raising=False)
    at = app(sample_db, monkeypatch, sample=False)
    at.run()
    assert not at.exception
    assert any("never falls back" in e.value for e in at.error)
    assert any(reason in t for t in sidebar_texts(at))
    at.switch_page("pages/distribution.py").run()
    assert not at.exception and not at.dataframe, "no numbers from DuckDB instead"
    assert any("never falls back" in e.value for e in at.error)


@pytest.mark.spark
def test_on_spark_the_pages_read_the_dataset_and_show_duckdbs_numbers(spark_session, sample_db, tmp_path,
                                                                      monkeypatch):
    copy = copied(sample_db, tmp_path / "copy.duckdb")  # the AppTest above still holds the sample open
    assert main(["export-tables", "--db", str(copy), "--out", str(tmp_path / "tables")]) == 0
    monkeypatch.delenv("FUNNEL_ENGINE", raising=False)
    duck = app(sample_db, monkeypatch, sample=False)
    duck.run()
    duck.switch_page("pages/distribution.py").run()
    assert not duck.exception and duck.dataframe

    # On Spark the Overview (opened first: its KPIs, cumulative funnel and what moved), Distribution (its table,
    # monthly trend and notes), Aging, Conversion and Segments show every table, chart, caption and note from the
    # counts taken in the tasks, and a row's leads (Aging's over-SLA list, a selected row) are selected there: no
    # lead's rows are prepared here for them
    from funnel.analyses import inputs

    prepared = []
    real = inputs.analysis_inputs
    monkeypatch.setattr(inputs, "analysis_inputs", lambda *a, **k: prepared.append(k.get("by")) or real(*a, **k))

    monkeypatch.setenv("FUNNEL_ENGINE", "spark")
    monkeypatch.setenv("FUNNEL_SPARK_DATA", str(tmp_path / "tables"))
    at = app(sample_db, monkeypatch, sample=False)
    at.run()
    assert not at.exception
    assert f"Engine: Spark ({spark_session.conf.get('spark.master')}) · dataset {tmp_path / 'tables'}" \
        in sidebar_texts(at)
    at.switch_page("pages/distribution.py").run()
    assert not at.exception
    assert len(at.dataframe) == len(duck.dataframe)
    for spark, duckdb in zip(at.dataframe, duck.dataframe, strict=True):
        assert spark.value.equals(duckdb.value)
    # (page, a selectbox and its value, a table whose row is then selected to list its leads)
    views = [("pages/segments.py", "seg_by", "industry", None), (None, "seg_by2", "country", None),
             ("pages/distribution.py", "dist_by", "source", "dist_table"), ("pages/aging.py", "aging_by", "source", None),
             ("pages/conversion.py", "conv_by", "source", "conv_table"), ("pages/overview.py", None, None, None)]
    seen, prepared_by = {}, {"spark": prepared[:]}
    prepared.clear()
    for app_, engine in ((duck, None), (at, "spark")):
        if engine is None:  # each run reads the engine from the environment, as a server started with it would
            monkeypatch.delenv("FUNNEL_ENGINE")
        else:
            monkeypatch.setenv("FUNNEL_ENGINE", engine)
        seen[engine] = []
        for page, box, value, table in views:
            if page:
                app_.switch_page(page).run()
            if box:
                app_.selectbox(key=box).set_value(value).run()
            if table:
                app_.session_state[table] = {"selection": {"rows": [3], "columns": [], "cells": []}}
                app_.run()
            assert not app_.exception
            seen[engine].append(([d.value for d in app_.dataframe], [c.value for c in app_.caption],
                                 [m.value for m in app_.metric], [c.proto.spec for c in app_.get("plotly_chart")]))
        prepared_by[engine] = prepared_by.get(engine, []) + prepared
        prepared.clear()
    assert prepared_by["spark"] == [], "on Spark no lead's rows are prepared here for these pages"
    assert prepared_by[None] == [("source",), ("industry",), ("industry", "country")], \
        "DuckDB prepares every lead's rows for each segmentation, as before"
    for (spark_tables, *spark_rest), (duck_tables, *duck_rest) in zip(seen["spark"], seen[None], strict=True):
        assert len(spark_tables) == len(duck_tables) > 0
        assert all(a.equals(b) for a, b in zip(spark_tables, duck_tables, strict=True))
        assert spark_rest == duck_rest  # captions (notes, data quality), KPIs, charts
    assert [len(charts) for *_, charts in seen[None]] == [1, 1, 1, 1, 5, 1], \
        "rates, a trend, aging, conversion (funnel, outcomes, cohorts, flows, time to convert), a funnel"
    assert len(seen[None][2][0]) == 2 and len(seen[None][2][0][1]) > 0, "the selected row's leads, listed"
    assert any("Data behind these numbers: of 3,000 leads" in c for _, captions, *_ in seen["spark"] for c in captions)
    assert any(t.value.startswith("Engine: Spark") for t in at.sidebar.text)
    at.switch_page("pages/data.py").run()
    assert not at.exception
    assert any("written to the DuckDB database sample.duckdb" in t.value and "funnel export-tables" in t.value
               for t in at.text)
