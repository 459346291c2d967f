"""Figures of the handoff review: pure functions from metric frames to Plotly figures."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from funnel import schema as sc
from funnel.charts.text import chart_text, chart_texts

__all__ = ["recycle_reasons_figure"]

# What each part of a bar means, in the order the bars stack.
RETURN_PARTS = (
    ("rejected_at_mql", "Sent back from MQL"),
    ("after_acceptance", "Recycled after acceptance (SQL or later)"),
)


def recycle_reasons_figure(reasons: pl.DataFrame) -> go.Figure:
    """A horizontal stacked bar per reason (most frequent on top) of the handoffs that came back
    to nurture, split into sent back from MQL and recycled after acceptance (from `recycle_reasons`)."""
    ordered = reasons.sort(["leads", sc.REASON], descending=[False, True])  # Plotly draws bottom-up
    figure = go.Figure()
    for column, label in RETURN_PARTS:
        figure.add_bar(
            name=label,
            orientation="h",
            y=chart_texts(ordered.get_column(sc.REASON).to_list()),
            x=ordered.get_column(column).to_list(),
            customdata=ordered.get_column("share").to_list(),
            hovertemplate="%{y}: %{x} handoffs<br>%{customdata:.0%} of all returns<extra>" + chart_text(label) + "</extra>",
        )
    figure.update_layout(
        title={"text": "Why handoffs came back to nurture"},
        barmode="stack",
        xaxis={"title": {"text": "Handoffs returned below MQL"}, "rangemode": "tozero"},
        yaxis={"title": {"text": "Reason"}, "automargin": True},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "left", "x": 0.0},
        height=max(280, 60 + 28 * ordered.height),
        margin={"l": 10, "r": 10, "t": 80, "b": 40},
    )
    return figure
