"""Golden data of every chart: each figure built from the hand-made scenario's metric frames, its
traces compared with tests/golden/<chart>.json (set FUNNEL_UPDATE_GOLDEN=1 to rewrite them after a
deliberate change, and review the diff)."""

from __future__ import annotations

import json
import math
import os
from datetime import date
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio
import pytest

from funnel.analyses import (
    aging_buckets,
    conversion_cohorts,
    cumulative_conversion,
    distribution_trend,
    segment_performance,
    stage_conversion,
    stage_flows,
    time_to_convert_curve,
)
from funnel.charts import ladder as charts
from tests.test_metrics_support import SETTINGS, filters, scenario

GOLDEN = Path(__file__).with_name("golden")


def rounded(value):
    """Floats rounded to 10 significant digits, so the files do not churn on the last bit."""
    if isinstance(value, float):
        return value if not math.isfinite(value) or value == 0 else float(f"{value:.10g}")
    if isinstance(value, list):
        return [rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return value


def figure_data(figure: go.Figure) -> dict:
    """The traces and the layout's title and axis titles, as plain JSON."""
    full = json.loads(pio.to_json(figure, engine="json"))
    layout = full["layout"]
    return rounded({
        "title": layout.get("title", {}).get("text"),
        "xaxis": layout.get("xaxis", {}).get("title", {}).get("text"),
        "yaxis": layout.get("yaxis", {}).get("title", {}).get("text"),
        "data": full["data"],
    })


def figures() -> dict[str, go.Figure]:
    con, f = scenario(), filters()
    by = ["source"]
    return {
        "funnel": charts.funnel_chart(cumulative_conversion(con, f, settings=SETTINGS)),
        "outcomes": charts.outcomes_bar(stage_conversion(con, f, settings=SETTINGS, by="source"), by=by),
        "cohorts": charts.cohort_heatmap(conversion_cohorts(con, f, settings=SETTINGS)),
        "sankey": charts.stage_flow_sankey(stage_flows(con, f, settings=SETTINGS)),
        "distribution_area": charts.distribution_area(distribution_trend(con, f, settings=SETTINGS)),
        "aging_histogram": charts.aging_histogram(aging_buckets(con, f, settings=SETTINGS)),
        "time_to_convert": charts.time_to_convert_chart(
            time_to_convert_curve(con, f, settings=SETTINGS, from_stage="lead", to_stage="mql"),
            from_stage="lead", to_stage="mql"),
        "segment_rates": charts.segment_rates_chart(segment_performance(con, f, settings=SETTINGS, by="source"), by=by,
                                                    rate="reached_mql_rate"),
    }


FIGURES = figures()


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_chart_data_matches_golden(name):
    got = figure_data(FIGURES[name])
    path = GOLDEN / f"{name}.json"
    if os.environ.get("FUNNEL_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(got, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    assert path.exists(), f"no golden file {path.name}: run with FUNNEL_UPDATE_GOLDEN=1 and review it"
    assert got == json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_every_chart_is_readable(name):
    data = figure_data(FIGURES[name])
    assert data["title"]
    if name not in ("sankey", "funnel"):
        assert data["xaxis"] and data["yaxis"]


def test_stages_follow_the_ladder_not_the_alphabet():
    area = [t["name"] for t in FIGURES["distribution_area"].data]
    assert area == ["Lead", "MQL", "SQL", "Opportunity", "Customer", "(no stage)"]
    funnel = list(FIGURES["funnel"].data[0].y)
    assert funnel == ["Subscriber", "Lead", "MQL", "SQL", "Opportunity", "Customer"]
    steps = list(FIGURES["outcomes"].data[0].y)
    assert steps[0] == "Subscriber → Lead" and steps[-1] == "Opportunity → Customer"


def test_the_outcomes_bar_shows_the_total_rows_only():
    advanced = list(FIGURES["outcomes"].data[0].x)
    assert advanced == [1, 5, 2, 1, 1]


def test_charts_of_empty_frames_do_not_fail():
    con, f = scenario(), filters(as_of=date(2025, 6, 30))
    charts.funnel_chart(cumulative_conversion(con, f, settings=SETTINGS))
    charts.outcomes_bar(stage_conversion(con, f, settings=SETTINGS))
    charts.cohort_heatmap(conversion_cohorts(con, f, settings=SETTINGS))
    charts.stage_flow_sankey(stage_flows(con, f, settings=SETTINGS))
    charts.distribution_area(distribution_trend(con, f, settings=SETTINGS))
    charts.aging_histogram(aging_buckets(con, f, settings=SETTINGS))
    charts.time_to_convert_chart(time_to_convert_curve(con, f, settings=SETTINGS, from_stage="lead", to_stage="mql"),
                                 from_stage="lead", to_stage="mql")
    charts.segment_rates_chart(segment_performance(con, f, settings=SETTINGS, by="source"), by=["source"])
