"""The benchmark's reference (benchmarks/reference_metrics.sql) runs, and gives the figures `funnel metrics` gives,
on a small imported sample, on both ladders, at the newest day and at an earlier one."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
from datetime import date
from pathlib import Path
from types import ModuleType

import pytest

from funnel.cli.main import main
from funnel.config import default_settings
from funnel.store.db import connect

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", BENCHMARKS / f"{name}.py")
    assert spec and spec.loader
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def run(*argv: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(list(argv)) == 0, argv
    return out.getvalue()


@pytest.fixture(scope="module")
def small_store(sample_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("bench") / "funnel.duckdb"
    run("import", "--db", str(db), *[str(sample_files[t]) for t in ("accounts", "leads", "stage_events", "deals",
                                                                       "activities")])
    return db


@pytest.mark.parametrize("ladder", ["lifecycle", "funnel"])
@pytest.mark.parametrize("day", ["newest", "2026-06-30"])
def test_the_reference_gives_the_figures_of_funnel_metrics(small_store: Path, ladder: str, day: str):
    reference = module("reference")
    settings = default_settings()
    args = ["metrics", "--db", str(small_store), "--ladder", ladder] + ([] if day == "newest" else ["--as-of", day])
    report = json.loads(run(*args))
    con = connect(small_store, read_only=True)
    try:
        rows = reference.reference_rows(con, settings, ladder=ladder, as_of=date.fromisoformat(report["as_of"]))
    finally:
        con.close()
    ours = reference.report_figures(report)
    theirs = reference.reference_figures(rows, settings, ladder=ladder)
    assert ours[("reach", None, "leads")] > 0
    assert any(v for (family, _, metric), v in ours.items() if family == "conversion" and metric == "advanced")
    assert reference.differences(ours, theirs) == []


def test_a_difference_is_named_with_both_figures():
    reference = module("reference")
    assert reference.differences({("distribution", "mql", "leads"): 3}, {("distribution", "mql", "leads"): 4.0}) \
        == ["('distribution', 'mql', 'leads'): funnel metrics 3, reference 4.0"]
    assert reference.differences({("aging", "mql", "median_days"): None}, {}) == []
