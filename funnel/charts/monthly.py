"""Figures of the monthly review: pure Plotly builders on the frames of `funnel.analyses.monthly`.

No computation beyond picking rows: the numbers are the review's. Traces hold plain lists, so a
figure serialises to stable JSON (the HTML report embeds it as such).
"""

from __future__ import annotations

import json
from typing import Any

import plotly.graph_objects as go
import polars as pl

from funnel.analyses.monthly import MonthlyReview
from funnel.charts.ladder import LAYOUT, PALETTE
from funnel.charts.text import chart_text, chart_texts
from funnel.display.labels import column_label, stage_label, step_label

__all__ = [
    "PERIOD_LABELS",
    "conversion_by_month",
    "distribution_by_month_end",
    "figure_dicts",
    "mix_rate_bars",
    "review_figures",
    "segment_rates_now_then",
]

PERIOD_LABELS = {"current": "this month", "previous": "last month", "year_ago": "a year earlier"}
PERIOD_COLORS = {"current": PALETTE[0], "previous": PALETTE[1], "year_ago": PALETTE[8]}


def _layout(title: str, **extra) -> dict:
    layout = {**LAYOUT, "title": {"text": title}, "legend": {"orientation": "h", "y": -0.2}, "height": 420}
    layout.update(extra)
    return layout


def conversion_by_month(conversion: pl.DataFrame) -> go.Figure:
    """Every step's rate per month compared (grouped bars with their Wilson intervals); steps with
    nothing decided show no bar."""
    fig = go.Figure()
    for period in ("year_ago", "previous", "current"):
        rows = conversion.filter(pl.col("period") == period)
        if not rows.height:
            continue
        steps = [chart_text(step_label(a, b)) for a, b in zip(rows.get_column("from_stage").cast(pl.String).to_list(),
                                                          rows.get_column("to_stage").cast(pl.String).to_list(),
                                                          strict=True)]
        rate = rows.get_column("rate").to_list()
        lo = rows.get_column("rate_lo").to_list()
        hi = rows.get_column("rate_hi").to_list()
        month = rows.get_column("month")[0]
        fig.add_bar(
            name=f"{PERIOD_LABELS[period]} ({month:%b %Y})", x=steps, y=rate, marker_color=PERIOD_COLORS[period],
            error_y={"type": "data", "symmetric": False,
                     "array": [None if r is None else h - r for r, h in zip(rate, hi, strict=True)],
                     "arrayminus": [None if r is None else r - low for r, low in zip(rate, lo, strict=True)]},
            customdata=list(zip(rows.get_column("advanced").to_list(), rows.get_column("open").to_list(), strict=True)),
            hovertemplate="%{x}: %{y:.0%}<br>advanced %{customdata[0]}, still open %{customdata[1]}<extra></extra>")
    fig.update_layout(**_layout("Step conversion of each month's entries (95% interval)", barmode="group"))
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05], title="advanced ÷ decided")
    return fig


def distribution_by_month_end(distribution: pl.DataFrame) -> go.Figure:
    """Leads in each stage at each month end compared (grouped bars)."""
    fig = go.Figure()
    for period in ("year_ago", "previous", "current"):
        rows = distribution.filter(pl.col("period") == period)
        if not rows.height:
            continue
        stages = chart_texts("(no stage)" if s is None else stage_label(s)
                             for s in rows.get_column("stage").cast(pl.String).to_list())
        fig.add_bar(name=f"{rows.get_column('month_end')[0]:%d %b %Y}", x=stages, y=rows.get_column("leads").to_list(),
                    marker_color=PERIOD_COLORS[period])
    fig.update_layout(**_layout("Leads by stage at each month end", barmode="group"))
    fig.update_yaxes(title="leads")
    return fig


def mix_rate_bars(health: pl.DataFrame, by: str) -> go.Figure:
    """Per step: the change of the overall rate since last month split into its mix and rate parts."""
    total = health.filter(pl.col(by).is_null() & pl.col("change").is_not_null())
    steps = [chart_text(step_label(a, b)) for a, b in zip(total.get_column("from_stage").cast(pl.String).to_list(),
                                                      total.get_column("to_stage").cast(pl.String).to_list(),
                                                      strict=True)]
    fig = go.Figure()
    fig.add_bar(name="mix (which segments the entries came from)", x=steps,
                y=total.get_column("mix_part").to_list(), marker_color=PALETTE[3])
    fig.add_bar(name="rate (how each segment converted)", x=steps, y=total.get_column("rate_part").to_list(),
                marker_color=PALETTE[4])
    fig.add_scatter(name="change", x=steps, y=total.get_column("change").to_list(), mode="markers",
                    marker={"color": "black", "size": 11, "symbol": "diamond"})
    fig.update_layout(**_layout(f"Change since last month, split into mix and rate by {chart_text(column_label(by))}",
                                barmode="relative"))
    # The axis always spans at least ±5 points: a change of (almost) nothing stays a flat line, never a bar
    # blown up to the chart's height by autoscaling.
    fig.update_yaxes(tickformat="+.1%", title="points of conversion", autorangeoptions={"include": [-0.05, 0.05]})
    return fig


def segment_rates_now_then(health: pl.DataFrame, by: str, from_stage: str) -> go.Figure:
    """One step's rate per segment, last month against this month (horizontal bars)."""
    rows = health.filter(pl.col(by).is_not_null() & (pl.col("from_stage").cast(pl.String) == from_stage))
    rows = rows.sort("decided_cur", descending=False)
    names = chart_texts(rows.get_column(by).to_list())
    fig = go.Figure()
    for suffix, label, color in (("prev", "last month", PALETTE[1]), ("cur", "this month", PALETTE[0])):
        fig.add_bar(name=label, y=names, x=rows.get_column(f"rate_{suffix}").to_list(), orientation="h",
                    marker_color=color,
                    customdata=rows.get_column(f"decided_{suffix}").to_list(),
                    hovertemplate="%{y}: %{x:.0%} of %{customdata} decided<extra></extra>")
    to_stage = rows.get_column("to_stage").cast(pl.String)[0] if rows.height else ""
    fig.update_layout(**_layout(chart_text(f"{step_label(from_stage, to_stage)} by {column_label(by)}"), barmode="group",
                                height=max(320, 60 + 44 * len(names)), margin={"l": 160, "r": 30, "t": 60, "b": 50}))
    fig.update_xaxes(tickformat=".0%", range=[0, 1.05])
    return fig


def review_figures(review: MonthlyReview, *, step: str | None = None) -> dict[str, go.Figure]:
    """The review's figures by section name (distribution, conversion, and with a dimension the
    segment-health mix/rate bars and the segments' rates for `step`, default the step from MQL when
    its entries were decided both months, else the first step that was, else the first step)."""
    figures = {"distribution": distribution_by_month_end(review.distribution),
               "conversion": conversion_by_month(review.conversion)}
    health = review.segment_health
    if review.by and health.height:
        figures["segment_health_mix"] = mix_rate_bars(health, review.by)
        steps = health.get_column("from_stage").cast(pl.String).unique(maintain_order=True).to_list()
        decided = health.filter(pl.col(review.by).is_null() & (pl.col("decided_cur") > 0) & (pl.col("decided_prev") > 0))
        decided_steps = decided.get_column("from_stage").cast(pl.String).to_list()
        # From MQL when entries from MQL were decided both months; else the first step that was (a chart of a step
        # nothing was decided in is empty); else the first step.
        chosen = step or ("mql" if "mql" in decided_steps else (decided_steps[0] if decided_steps else steps[0]))
        figures["segment_health_rates"] = segment_rates_now_then(health, review.by, chosen)
    return figures


def figure_dicts(figures: dict[str, go.Figure]) -> dict[str, dict[str, Any]]:
    """Figures as plain JSON-ready dicts (what the HTML report embeds)."""
    return {name: json.loads(figure.to_json()) for name, figure in figures.items()}
