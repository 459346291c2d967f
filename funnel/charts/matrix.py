"""Figures of the fit × intent matrix and of score validation."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from funnel.charts.text import chart_text
from funnel.model.matrix import QUADRANT_LABELS

POSITION = {"high_fit_high_intent": (1, 1), "high_fit_low_intent": (0, 1),
            "low_fit_high_intent": (1, 0), "low_fit_low_intent": (0, 0)}
# A bar or cell drawn pale: its sample is too small to read the rate from.
PALE = "#C9D6E8"
SOLID = "#4C78A8"
# The matrix's colour scale reaches at least this rate, so a cell converting 1% is never drawn dark.
MIN_TOP_RATE = 0.1


def matrix_chart(cells: pl.DataFrame, *, title: str = "Later conversion by fit and intent") -> go.Figure:
    """A 2×2 grid, intent across and fit up, each cell coloured by its later conversion rate (darker =
    converts more; grey when nothing could be measured) and labelled with its leads and rate, so the cell to
    act on stands out by its conversion, not by its size."""
    z = [[None, None], [None, None]]
    text = [["", ""], ["", ""]]
    for row in cells.iter_rows(named=True):
        x, y = POSITION[row["quadrant"]]
        z[y][x] = row["rate"]
        rate = "not measurable" if row["rate"] is None else f"{row['rate']:.0%}"
        small = " (small sample)" if row.get("small_sample") and row["rate"] is not None else ""
        text[y][x] = (f"<b>{chart_text(QUADRANT_LABELS[row['quadrant']])}</b><br>{row['leads']:,} leads"
                      + (f"<br>later conversion {rate}{small}" if row["leads"] else ""))
    rates = [v for line in z for v in line if v is not None]
    figure = go.Figure(go.Heatmap(
        z=z, x=["Low intent", "High intent"], y=["Low fit", "High fit"], text=text, texttemplate="%{text}",
        textfont={"size": 14}, colorscale="Blues", zmin=0, zmax=max([*rates, MIN_TOP_RATE]),
        xgap=3, ygap=3, colorbar={"title": {"text": "Later<br>conversion"}, "tickformat": ".0%"},
        hovertemplate="%{text}<extra></extra>"))
    figure.update_layout(title={"text": chart_text(title)}, height=420, margin={"l": 60, "r": 20, "t": 50, "b": 40},
                         xaxis_title="Intent", yaxis_title="Fit", plot_bgcolor="#EEEEEE", template="plotly_white")
    return figure


def _decile_names(deciles: pl.DataFrame) -> tuple[list[str], list[str]]:
    """Each listed decile with the empty deciles after it pooled into its name ("1–4"): equal scores share a
    decile, so the ones they leave empty belong to the group before them; and each group's score range."""
    listed = deciles.get_column("decile").to_list()
    names, scores = [], []
    for i, decile in enumerate(listed):
        last = (listed[i + 1] - 1) if i + 1 < len(listed) else 10
        names.append(str(decile) if last <= decile else f"{decile}–{last}")
        low, high = deciles.get_column("score_min")[i], deciles.get_column("score_max")[i]
        scores.append(f"{low:.0f}" if round(low) == round(high) else f"{low:.0f}–{high:.0f}")
    return names, scores


def decile_chart(deciles: pl.DataFrame, *, score: str) -> go.Figure:
    """Later conversion rate per score decile with Wilson intervals (a well-calibrated score climbs): deciles
    left empty by equal scores pooled into the group before them, small samples pale, the axis scaled to the
    rates and an interval that runs past it cut at the top with its true end written above it."""
    figure = go.Figure()
    if deciles.height:
        names, scores = _decile_names(deciles)
        rate = [min(max(r, 0.0), 1.0) for r in deciles.get_column("rate").to_list()]
        low = [min(max(v, 0.0), 1.0) for v in deciles.get_column("low").to_list()]
        high = [min(max(v, 0.0), 1.0) for v in deciles.get_column("high").to_list()]
        small = deciles.get_column("small_sample").to_list() if "small_sample" in deciles.columns \
            else [False] * deciles.height
        top = min(1.0, max(0.05, max(rate) * 1.8))
        shown_high = [min(h, top) for h in high]
        figure.add_bar(x=names, y=rate, marker_color=[PALE if s else SOLID for s in small],
                       error_y={"type": "data", "symmetric": False,
                                "array": [h - r for h, r in zip(shown_high, rate, strict=True)],
                                "arrayminus": [r - lo for r, lo in zip(rate, low, strict=True)]},
                       customdata=[[lo, h, n, score] for lo, h, n, score in zip(
                           low, high, deciles.get_column("leads").to_list(), scores, strict=True)],
                       hovertemplate="decile %{x} (score %{customdata[3]}): %{y:.1%} of %{customdata[2]:,} leads "
                                     "(95% interval %{customdata[0]:.1%}–%{customdata[1]:.1%})<extra></extra>")
        for position, h in enumerate(high):  # a category axis places annotations by position
            if h > top:
                figure.add_annotation(x=position, y=top, text=f"↑ to {h:.0%}", showarrow=False, yshift=8,
                                      font={"size": 10, "color": "#555"})
        figure.update_yaxes(range=[0, top * 1.08])
    figure.update_layout(title={"text": chart_text(f"Later conversion by {score.lower()} decile")}, height=380,
                         xaxis_title=chart_text(f"{score} decile (1 = lowest; tied scores share one, pale = small sample)"),
                         yaxis_title="Converted", xaxis={"type": "category", "tickangle": 0},
                         yaxis_tickformat=".0%", margin={"l": 60, "r": 20, "t": 50, "b": 70}, template="plotly_white",
                         showlegend=False)
    return figure
