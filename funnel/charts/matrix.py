"""Figures of the fit × intent matrix and of score validation."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from funnel.charts.text import chart_text
from funnel.model.matrix import QUADRANT_LABELS

POSITION = {"high_fit_high_intent": (1, 1), "high_fit_low_intent": (0, 1),
            "low_fit_high_intent": (1, 0), "low_fit_low_intent": (0, 0)}


def matrix_chart(cells: pl.DataFrame, *, title: str = "Leads by fit and intent") -> go.Figure:
    """A 2×2 grid: intent across, fit up; each cell shows its leads and later conversion rate."""
    z = [[0, 0], [0, 0]]
    text = [["", ""], ["", ""]]
    for row in cells.iter_rows(named=True):
        x, y = POSITION[row["quadrant"]]
        z[y][x] = row["leads"]
        rate = "–" if row["rate"] is None else f"{row['rate']:.0%}"
        text[y][x] = f"{chart_text(QUADRANT_LABELS[row['quadrant']])}<br>{row['leads']:,} leads<br>later conversion {rate}"
    figure = go.Figure(go.Heatmap(z=z, x=["Low intent", "High intent"], y=["Low fit", "High fit"], text=text,
                                  texttemplate="%{text}", colorscale="Blues", showscale=False,
                                  hovertemplate="%{text}<extra></extra>"))
    figure.update_layout(title={"text": chart_text(title)}, height=420, margin={"l": 60, "r": 20, "t": 50, "b": 40},
                         xaxis_title="Intent", yaxis_title="Fit")
    return figure


def decile_chart(deciles: pl.DataFrame, *, score: str) -> go.Figure:
    """Later conversion rate per score decile with Wilson intervals (a well-calibrated score climbs)."""
    figure = go.Figure()
    if deciles.height:
        rate = deciles.get_column("rate")
        figure.add_bar(x=deciles.get_column("decile").to_list(), y=rate.to_list(),
                       error_y={"type": "data", "symmetric": False,
                                "array": (deciles.get_column("high") - rate).to_list(),
                                "arrayminus": (rate - deciles.get_column("low")).to_list()},
                       marker_color="#4c78a8", hovertemplate="decile %{x}: %{y:.1%}<extra></extra>")
    figure.update_layout(title={"text": chart_text(f"Later conversion by {score.lower()} decile")}, height=360,
                         xaxis_title=chart_text(f"{score} decile (1 = lowest scores)"), yaxis_title="Converted",
                         yaxis_tickformat=".0%", margin={"l": 60, "r": 20, "t": 50, "b": 50})
    return figure
