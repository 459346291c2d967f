"""Data never becomes markup in a figure: every chart builder, fed hostile values where data text
goes (stage names, segment values and column names, reasons, the score name), yields a figure whose
JSON holds the values only as inert text (Plotly shows &amp; &lt; &gt; &#NN; as the characters)."""

from __future__ import annotations

import json
import re
from datetime import date

import plotly.io as pio
import polars as pl
import pytest

from funnel.charts import handoff as charts_handoff
from funnel.charts import ladder as charts
from funnel.charts import matrix as charts_matrix
from funnel.charts.text import chart_text

HOSTILE = (
    '<a href="javascript:alert(1)">Z1</a>',
    "<b>Z2</b><br>Z3",
    "&lt;Z4&gt;",
    "[Z5](javascript:alert(1)) **Z5** _Z5_",
    "$Z6^2$",
    "%{x}Z7",
    '<span style="font-size:99px">Z8</span>',
    "javascript:Z9",
)
MARKER = re.compile(r"Z\d")
TAG = re.compile(r"<\s*/?\s*(a|b|br|span|i|em|sub|sup|s|u)\b", re.IGNORECASE)
ENTITY = re.compile(r"&(#\d+|#x[\da-fA-F]+|[a-z]+);")
PLOTLY_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "nbsp": "\u00a0"}


def plotly_shown(text: str) -> str:
    """What Plotly draws for a plain (tag-free) string: its entity decoding (svg_text_utils.convertEntities)."""
    def one(match: re.Match) -> str:
        inner = match.group(1)
        if inner.startswith("#x"):
            return chr(int("0" + inner[1:], 0))
        if inner.startswith("#"):
            return chr(int(inner[1:]))
        return PLOTLY_ENTITIES.get(inner, match.group(0))
    return ENTITY.sub(one, text)


def strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    return []


def hostile_figures() -> dict[str, object]:
    a, b, c = HOSTILE[0], HOSTILE[1], HOSTILE[2]
    stages = pl.Enum(list(HOSTILE))
    return {
        "funnel": charts.funnel_chart(pl.DataFrame(
            {"stage": list(HOSTILE), "reached": list(range(8, 0, -1)), "rate": [1.0 / (i + 1) for i in range(8)]},
            schema_overrides={"stage": stages})),
        "outcomes": charts.outcomes_bar(pl.DataFrame(
            {"from_stage": list(HOSTILE[:-1]), "to_stage": list(HOSTILE[1:]), "rate": [0.5] * 7,
             "advanced": [1] * 7, "lost": [1] * 7, "expired": [0] * 7, "open": [2] * 7})),
        "cohorts": charts.cohort_heatmap(pl.DataFrame(
            {"cohort_month": [date(2024, 1, 1)] * 7, "from_stage": list(HOSTILE[:-1]), "to_stage": list(HOSTILE[1:]),
             "rate": [0.5] * 7, "entered": [4] * 7}, schema_overrides={"from_stage": stages, "to_stage": stages})),
        "sankey": charts.stage_flow_sankey(pl.DataFrame(
            {"from_stage": [None, *HOSTILE[:-1]], "to_stage": list(HOSTILE), "moves": [3] * 8,
             "direction": ["start", "up", "down", "side", "back", "up", "up", "<b>Z0</b>"]},
            schema_overrides={"from_stage": stages, "to_stage": stages})),
        "distribution_area": charts.distribution_area(pl.DataFrame(
            {"date": [date(2024, 1, 31)] * 8, "stage": list(HOSTILE), "leads": [2] * 8, "share": [0.125] * 8},
            schema_overrides={"stage": stages})),
        "aging_histogram": charts.aging_histogram(pl.DataFrame(
            {"stage": list(HOSTILE), "bucket": list(reversed(HOSTILE)), "leads": [2] * 8},
            schema_overrides={"stage": stages})),
        "time_to_convert": charts.time_to_convert_chart(pl.DataFrame(
            {"days": [1.0, 5.0], "converted_share": [0.2, 0.6], "at_risk": [10, 8]}), from_stage=a, to_stage=b),
        "segment_rates": charts.segment_rates_chart(pl.DataFrame(
            {c: [None, *HOSTILE], "reached_customer_rate": [0.3] * 9, "reached_customer_rate_lo": [0.1] * 9,
             "reached_customer_rate_hi": [0.5] * 9, "reached_customer_rate_small_sample": [False] * 9}), by=[c]),
        "segment_heatmap": charts.segment_rates_chart(pl.DataFrame(
            {a: [None, *HOSTILE], b: [None, *reversed(HOSTILE)], "leads": [90, *range(1, 9)],
             "reached_customer_rate": [0.3] * 9, "reached_customer_rate_lo": [0.1] * 9,
             "reached_customer_rate_hi": [0.5] * 9, "reached_customer_rate_small_sample": [False, True] * 4 + [False]}),
            by=[a, b]),
        "recycle_reasons": charts_handoff.recycle_reasons_figure(pl.DataFrame(
            {"reason": list(HOSTILE), "leads": [1] * 8, "share": [0.125] * 8, "rejected_at_mql": [1] * 8,
             "after_acceptance": [0] * 8})),
        "matrix": charts_matrix.matrix_chart(pl.DataFrame(
            {"quadrant": ["high_fit_high_intent"], "leads": [3], "rate": [0.5]}), title=HOSTILE[3]),
        "deciles": charts_matrix.decile_chart(pl.DataFrame(
            {"decile": [1, 2], "leads": [10, 12], "score_min": [0.0, 5.0], "score_max": [4.0, 9.0], "rate": [0.1, 0.2],
             "low": [0.0, 0.1], "high": [0.2, 0.3], "small_sample": [True, False]}), score=HOSTILE[4]),
    }


FIGURES = hostile_figures()


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_no_markup_from_data_survives_in_the_figure(name):
    text = pio.to_json(FIGURES[name], engine="json")
    data_strings = [s for s in strings(json.loads(text)) if MARKER.search(s)]
    assert data_strings, "the hostile values did not reach the figure at all"
    for raw in HOSTILE:
        if any(ch in raw for ch in "<>&$%"):  # Markdown and a bare javascript: are not markup to Plotly
            assert raw not in text, raw
    for s in data_strings:
        assert not TAG.search(s), s
        assert "$" not in s, s  # no LaTeX delimiters ($…$ is typeset when MathJax is present)
        assert not re.search(r"%\{x\}Z7", s), s  # never a template field taken from data
        assert "&lt;Z4" not in s, s  # an entity in the data is shown as written, not decoded


def test_chart_text_is_shown_exactly_as_the_data_reads():
    for raw in (*HOSTILE, "Pay-per-click → SQL", "50% off & more", "", "Ünïcödé 名前"):
        shown = chart_text(raw)
        assert "<" not in shown and ">" not in shown and "$" not in shown and "%" not in shown
        assert plotly_shown(shown) == raw
    assert chart_text(None) == ""
    assert chart_text(3) == "3"


def test_every_chart_module_uses_the_one_escaping_function():
    """New figure builders in funnel/charts/ must route data text through chart_text."""
    from pathlib import Path

    folder = Path(charts.__file__).parent
    for module in folder.glob("*.py"):
        source = module.read_text(encoding="utf-8")
        if "plotly" in source and module.name != "text.py":
            assert "from funnel.charts.text import" in source, module.name
            assert "html.escape" not in source, module.name
