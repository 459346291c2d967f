"""Pure Plotly figure builders: each takes a metric frame from `funnel.analyses` and returns a
`go.Figure` with a title, axis labels and stages in ladder order. No computation happens here
beyond picking rows and formatting: the numbers are the metric functions'.

Frames may carry segment columns; pass their names as `by` and the charts draw the total rows
(segment columns null), except `segment_rates_chart`, which draws the segments against the total.
Traces hold plain lists (never numpy arrays), so a figure's data serialises to stable JSON.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
import polars as pl

from funnel.charts.text import chart_text, chart_texts
from funnel.display.labels import column_label, stage_label, value_label

__all__ = [
    "aging_histogram",
    "cohort_heatmap",
    "distribution_area",
    "funnel_chart",
    "outcomes_bar",
    "segment_rates_chart",
    "stage_colors",
    "stage_flow_sankey",
    "time_to_convert_chart",
]

NO_STAGE_LABEL = "(no stage)"
PALETTE = ("#4C78A8", "#72B7B2", "#54A24B", "#EECA3B", "#F58518", "#E45756", "#B279A2", "#9D755D", "#BAB0AC")
OUTCOME_COLORS = {"advanced": "#54A24B", "lost": "#E45756", "expired": "#BAB0AC", "open": "#4C78A8"}
DIRECTION_COLORS = {"start": "rgba(186,176,172,0.5)", "up": "rgba(84,162,75,0.45)", "down": "rgba(228,87,86,0.5)",
                    "side": "rgba(178,121,162,0.5)", "back": "rgba(76,120,168,0.5)"}
LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 30, "t": 60, "b": 50}, "font": {"size": 13}}


def _total_rows(frame: pl.DataFrame, by: Sequence[str]) -> pl.DataFrame:
    """The rows for the whole population: every segment column null."""
    if not by:
        return frame
    return frame.filter(pl.all_horizontal([pl.col(c).is_null() for c in by]))


def _stage_order(frame: pl.DataFrame, column: str) -> list[str]:
    """The stages of a column in ladder order (its Enum's categories), else in order of appearance."""
    dtype = frame.schema[column]
    if isinstance(dtype, pl.Enum):
        return list(dtype.categories.to_list())
    return [s for s in dict.fromkeys(frame.get_column(column).cast(pl.String).to_list()) if s is not None]


def stage_colors(stages: Sequence[str]) -> dict[str, str]:
    """A fixed color per stage, by its place on the ladder."""
    colors = {stage: PALETTE[i % len(PALETTE)] for i, stage in enumerate(stages)}
    colors[NO_STAGE_LABEL] = "#D3D3D3"
    return colors


def _labels(values: list[str | None]) -> list[str]:
    return [NO_STAGE_LABEL if v is None else str(v) for v in values]


def _stage_text(stage: object) -> str:
    """A stage as figure text: its label (funnel.display.labels), escaped."""
    return chart_text(NO_STAGE_LABEL if stage is None or stage == NO_STAGE_LABEL else stage_label(stage))


def _figure(title: str, **layout) -> go.Figure:
    figure = go.Figure()
    figure.update_layout(title={"text": chart_text(title)}, **{**LAYOUT, **layout})
    return figure


def funnel_chart(cumulative: pl.DataFrame, *, by: Sequence[str] = (),
                 title: str = "Leads that reached each stage (ever, by the as-of date)") -> go.Figure:
    """A funnel of `cumulative_conversion` (stage, reached, rate): leads of the cohort that got at
    least this far, with the share of the cohort."""
    rows = _total_rows(cumulative, by)
    stages = _labels(rows.get_column("stage").cast(pl.String).to_list())
    figure = _figure(title, yaxis_title="Stage")
    figure.add_trace(go.Funnel(
        y=[_stage_text(s) for s in stages], x=rows.get_column("reached").to_list(),
        text=[f"{r:.1%}" if r is not None else "–" for r in rows.get_column("rate").to_list()],
        texttemplate="%{x:,} (%{text})", marker={"color": [stage_colors(stages)[s] for s in stages]},
        hovertemplate="%{y}: %{x:,} leads reached it (%{text} of the cohort)<extra></extra>", name="Leads"))
    return figure


def outcomes_bar(conversion: pl.DataFrame, *, by: Sequence[str] = (),
                 title: str = "Outcome of every stage entry") -> go.Figure:
    """Stacked horizontal bars of `stage_conversion`: per step, entries advanced, lost, expired and
    still open (they add up to the entries), with the rate in the hover."""
    rows = _total_rows(conversion, by)
    steps = [f"{_stage_text(a)} → {_stage_text(b)}" for a, b in zip(rows.get_column("from_stage").cast(pl.String).to_list(),
                                          rows.get_column("to_stage").cast(pl.String).to_list(), strict=True)]
    rates = ["–" if r is None else f"{r:.1%}" for r in rows.get_column("rate").to_list()]
    figure = _figure(title, barmode="stack", xaxis_title="Stage entries", yaxis_title="Step",
                     yaxis={"categoryorder": "array", "categoryarray": steps[::-1]}, legend_title_text="Outcome")
    for outcome, color in OUTCOME_COLORS.items():
        figure.add_trace(go.Bar(
            y=steps, x=rows.get_column(outcome).to_list(), name=value_label(outcome), orientation="h",
            marker={"color": color}, customdata=rates,
            hovertemplate=f"%{{y}}: %{{x:,}} {value_label(outcome).lower()} (conversion rate %{{customdata}})"
                          "<extra></extra>"))
    return figure


def cohort_heatmap(cohorts: pl.DataFrame, *, by: Sequence[str] = (),
                   title: str = "Conversion rate by entry month") -> go.Figure:
    """A heatmap of `conversion_cohorts`: entry month × step, colored by rate (blank when nothing
    was decided), entries in the hover."""
    rows = _total_rows(cohorts, by)
    order = _stage_order(rows, "from_stage")
    pairs = sorted({(r["from_stage"], r["to_stage"]) for r in rows.iter_rows(named=True)},
                   key=lambda pair: order.index(pair[0]))
    steps = [f"{_stage_text(a)} → {_stage_text(b)}" for a, b in pairs]
    months = sorted(set(rows.get_column("cohort_month").to_list()))
    lookup = {(r["cohort_month"], f"{_stage_text(r['from_stage'])} → {_stage_text(r['to_stage'])}"): r
              for r in rows.iter_rows(named=True)}
    z, entered = [], []
    for month in months:
        z.append([lookup.get((month, step), {}).get("rate") for step in steps])
        entered.append([lookup.get((month, step), {}).get("entered", 0) for step in steps])
    figure = _figure(title, xaxis_title="Step", yaxis_title="Month of entry", yaxis={"autorange": "reversed"})
    figure.add_trace(go.Heatmap(
        x=steps, y=[m.isoformat()[:7] for m in months], z=z, customdata=entered, zmin=0, zmax=1,
        colorscale="Blues", colorbar={"title": {"text": "Rate"}, "tickformat": ".0%"},
        hovertemplate="%{y}, %{x}: %{z:.1%} of decided entries (%{customdata:,} entered)<extra></extra>"))
    return figure


def stage_flow_sankey(flows: pl.DataFrame, *, title: str = "How leads moved between stages") -> go.Figure:
    """A Sankey of `stage_flows`: stages left (moved from) and right (moved into), links colored by
    direction: up the ladder, down (recycled), to or back from a side state, new leads starting. Nodes sit in
    two fixed columns with their names and moves written outside them (left of the left column, right of the
    right one), never across the links."""
    stages = _stage_order(flows, "to_stage")
    colors = stage_colors(stages)
    rows = list(flows.iter_rows(named=True))
    out_of = {None: 0, **{s: 0 for s in stages}}
    into = dict.fromkeys(stages, 0)
    for row in rows:
        out_of[row["from_stage"]] += row["moves"]
        into[row["to_stage"]] += row["moves"]
    left = [s for s in [None, *stages] if out_of[s]]
    right = [s for s in stages if into[s]]

    height, pad, top_margin, bottom_margin = max(460, 64 * max(len(left), len(right))), 16, 60, 30
    gap = pad / (height - top_margin - bottom_margin)  # the nodes' padding as a share of the plot's height
    # Plotly scales every node by the one factor that fits the fullest column (d3-sankey's ky).
    scale = min((1 - gap * (len(column) - 1)) / (sum(totals[s] for s in column) or 1)
                for column, totals in ((left, out_of), (right, into)) if column) if left else 1.0

    def centres(totals: list[int]) -> list[float]:
        """Each node's vertical centre (0 = top), stacked from the top with the padding between."""
        ys, top = [], 0.0
        for total in totals:
            ys.append(min(max(top + total * scale / 2, 0.001), 0.999))
            top += total * scale + gap
        return ys

    left_y, right_y = centres([out_of[s] for s in left]), centres([into[s] for s in right])
    sources, targets, values, link_colors, labels = [], [], [], [], []
    for row in rows:
        sources.append(left.index(row["from_stage"]))
        targets.append(len(left) + right.index(row["to_stage"]))
        values.append(row["moves"])
        link_colors.append(DIRECTION_COLORS.get(row["direction"], "rgba(150,150,150,0.4)"))
        labels.append(chart_text(value_label(row["direction"])))
    names = ["New leads" if s is None else _stage_text(s) for s in left] + [_stage_text(s) for s in right]
    figure = _figure(title, height=height, margin={"l": 150, "r": 150, "t": top_margin, "b": bottom_margin})
    figure.add_trace(go.Sankey(
        arrangement="fixed",
        node={"label": [""] * len(names), "pad": pad, "thickness": 16, "customdata": names,
              "x": [0.001] * len(left) + [0.999] * len(right), "y": left_y + right_y,
              "color": ["#BAB0AC" if s is None else colors[s] for s in left] + [colors[s] for s in right],
              "hovertemplate": "%{customdata}: %{value:,} moves<extra></extra>"},
        link={"source": sources, "target": targets, "value": values, "color": link_colors, "customdata": labels,
              "hovertemplate": "%{source.customdata} → %{target.customdata}: %{value:,} moves (%{customdata})"
                               "<extra></extra>"}))
    for column, ys, x, anchor, totals in ((left, left_y, 0, "right", out_of), (right, right_y, 1, "left", into)):
        for stage, y in zip(column, ys, strict=True):
            name = "New leads" if stage is None else _stage_text(stage)
            figure.add_annotation(x=x, y=1 - y, xref="paper", yref="paper", xanchor=anchor, showarrow=False,
                                  xshift=-6 if anchor == "right" else 6, text=f"{name} {totals[stage]:,}",
                                  font={"size": 12})
    figure.add_annotation(x=0, y=1.02, xref="paper", yref="paper", xanchor="right", yanchor="bottom",
                          showarrow=False, text="moved from", font={"size": 11, "color": "#666"}, xshift=-6)
    figure.add_annotation(x=1, y=1.02, xref="paper", yref="paper", xanchor="left", yanchor="bottom",
                          showarrow=False, text="moved into", font={"size": 11, "color": "#666"}, xshift=6)
    return figure


def distribution_area(trend: pl.DataFrame, *, by: Sequence[str] = (), share: bool = False,
                      title: str = "Leads by stage at each month end") -> go.Figure:
    """A stacked area of `distribution_trend`: leads (or shares) per stage over time, the ladder
    bottom-up, leads with no stage yet on top."""
    rows = _total_rows(trend, by)
    stages = _stage_order(rows, "stage")
    colors = stage_colors(stages)
    value = "share" if share else "leads"
    figure = _figure(title, xaxis_title="Month end", yaxis_title="Share of leads" if share else "Leads",
                     legend_title_text="Stage", hovermode="x unified")
    if share:
        figure.update_yaxes(tickformat=".0%")
    for stage in [*stages, None]:
        part = rows.filter(pl.col("stage").is_null() if stage is None else pl.col("stage") == stage).sort("date")
        if not any(part.get_column("leads").to_list()):  # a stage nobody was in: no empty band
            continue
        label = NO_STAGE_LABEL if stage is None else stage
        figure.add_trace(go.Scatter(
            x=[d.isoformat() for d in part.get_column("date").to_list()], y=part.get_column(value).to_list(),
            name=_stage_text(stage), mode="lines", stackgroup="stages", line={"width": 0.5, "color": colors[label]},
            hovertemplate=f"{_stage_text(stage)}: %{{y:{'.1%' if share else ','}}}<extra></extra>"))
    return figure


def aging_histogram(buckets: pl.DataFrame, *, by: Sequence[str] = (),
                    title: str = "Days in the current stage") -> go.Figure:
    """Grouped bars of `aging_buckets`: leads per aging bucket, one bar per stage in ladder order
    (entries without a date left out), on a log axis with each bar's count written on it, so one large
    bucket does not flatten the others."""
    rows = _total_rows(buckets, by).filter(pl.col("bucket").is_not_null())
    stages = _stage_order(rows, "stage")
    labels = _stage_order(rows, "bucket")
    colors = stage_colors(stages)
    figure = _figure(title, barmode="group", xaxis_title="Days in stage",
                     yaxis_title="Leads (log scale)", legend_title_text="Stage",
                     xaxis={"categoryorder": "array", "categoryarray": chart_texts(labels)},
                     yaxis={"type": "log", "dtick": 1, "tickformat": ","})
    for stage in stages:
        part = rows.filter(pl.col("stage") == stage)
        if not sum(part.get_column("leads").to_list()):
            continue
        counts = dict(zip(part.get_column("bucket").cast(pl.String).to_list(), part.get_column("leads").to_list(),
                          strict=True))
        values = [counts.get(b, 0) for b in labels]
        figure.add_trace(go.Bar(x=chart_texts(labels), y=[v or None for v in values], name=_stage_text(stage),
                                marker={"color": colors[stage]}, text=[f"{v:,}" if v else "" for v in values],
                                textposition="outside", textfont={"size": 10}, cliponaxis=False,
                                hovertemplate=f"{_stage_text(stage)}, %{{x}} days: %{{y:,}} leads<extra></extra>"))
    return figure


def time_to_convert_chart(curve: pl.DataFrame, *, from_stage: str, to_stage: str,
                          title: str | None = None) -> go.Figure:
    """The Kaplan–Meier curve of `time_to_convert_curve`: share converted (1 − survival) by days
    since reaching from_stage, as a step line; leads not converted yet are censored, not failures."""
    days = [0.0, *curve.get_column("days").to_list()]
    converted = [0.0, *curve.get_column("converted_share").to_list()]
    at_risk = [curve.get_column("at_risk")[0] if curve.height else 0, *curve.get_column("at_risk").to_list()]
    figure = _figure(title or f"Time from {stage_label(from_stage)} to {stage_label(to_stage)}",
                     xaxis_title=f"Days since reaching {_stage_text(from_stage)}",
                     yaxis_title=f"Share that reached {_stage_text(to_stage)}", yaxis={"tickformat": ".0%", "range": [0, 1]})
    figure.add_trace(go.Scatter(
        x=days, y=converted, mode="lines", line={"shape": "hv", "color": PALETTE[0]}, name="Converted",
        customdata=at_risk, hovertemplate="Day %{x}: %{y:.1%} converted (%{customdata:,} still at risk)<extra></extra>"))
    for q, dash in ((0.5, "dash"), (0.9, "dot")):
        figure.add_hline(y=q, line={"dash": dash, "width": 1, "color": "#555"},
                         annotation_text=f"{q:.0%}", annotation_position="top left")
    return figure


def segment_rates_chart(performance: pl.DataFrame, *, by: Sequence[str], rate: str = "reached_customer_rate",
                        title: str | None = None) -> go.Figure:
    """One rate of `segment_performance` per segment. One dimension: horizontal bars with Wilson 95% error
    bars, the overall rate as a line, small samples pale. Two crossed dimensions: a heatmap (first dimension
    down, second across) coloured by the rate, each cell annotated with its rate and leads, cells with a
    small sample grey."""
    if len(by) == 2:
        return _crossed_rates_heatmap(performance, by=by, rate=rate, title=title)
    segments = performance.filter(pl.any_horizontal([pl.col(c).is_not_null() for c in by]))
    segments = segments.sort(pl.col(rate).fill_null(-1.0), descending=False)  # Plotly draws bottom-up: best on top
    total = _total_rows(performance, by)
    names = [" × ".join(chart_text(r[c]) for c in by) for r in segments.iter_rows(named=True)]
    values = segments.get_column(rate).to_list()
    low = segments.get_column(f"{rate}_lo").to_list()
    high = segments.get_column(f"{rate}_hi").to_list()
    small = segments.get_column(f"{rate}_small_sample").to_list()
    label = column_label(rate)
    dimensions = " × ".join(column_label(c) for c in by)
    figure = _figure(title or f"{_rate_name(rate)} by {dimensions}", yaxis_title=chart_text(dimensions),
                     xaxis_title=chart_text(_rate_name(rate)), xaxis={"tickformat": ".0%", "rangemode": "tozero"},
                     height=max(320, 90 + 28 * len(names)), yaxis={"automargin": True})
    figure.add_trace(go.Bar(
        y=names, x=values, name="Segment", orientation="h",
        error_x={"type": "data", "symmetric": False,
                 "array": [None if v is None or h is None else h - v for v, h in zip(values, high, strict=True)],
                 "arrayminus": [None if v is None or lo is None else v - lo for v, lo in zip(values, low, strict=True)]},
        marker={"color": ["#C9D6E8" if s else PALETTE[0] for s in small]},
        customdata=[[lo, h, "small sample" if s else ""] for lo, h, s in zip(low, high, small, strict=True)],
        hovertemplate="%{y}: %{x:.1%} (95% interval %{customdata[0]:.1%}–%{customdata[1]:.1%}) "
                      "%{customdata[2]}<extra>" + chart_text(label) + "</extra>"))
    overall = total.get_column(rate)[0] if total.height else None
    if overall is not None:
        figure.add_vline(x=overall, line={"dash": "dash", "color": "#E45756"},
                         annotation_text=f"All leads {overall:.1%}", annotation_position="top",
                         annotation_yshift=4)
        figure.update_layout(margin={**LAYOUT["margin"], "t": 80})
    return figure


def _rate_name(rate: str) -> str:
    """A rate column as a chart names it ("Reached Customer" for reached_customer_rate)."""
    if rate.startswith("reached_") and rate.endswith("_rate"):
        return f"Reached {stage_label(rate.removeprefix('reached_').removesuffix('_rate'))}"
    return column_label(rate)


def _crossed_rates_heatmap(performance: pl.DataFrame, *, by: Sequence[str], rate: str,
                           title: str | None) -> go.Figure:
    """The crossed segments' rate as a heatmap: colour = rate, text = rate and leads, small samples grey."""
    first, second = by
    cells = performance.filter(pl.col(first).is_not_null() & pl.col(second).is_not_null())
    downs = sorted({str(v) for v in cells.get_column(first).to_list()})
    acrosses = sorted({str(v) for v in cells.get_column(second).to_list()})
    lookup = {(str(r[first]), str(r[second])): r for r in cells.iter_rows(named=True)}
    z, grey, text = [], [], []
    for down in downs:
        z_row, grey_row, text_row = [], [], []
        for across in acrosses:
            row = lookup.get((down, across))
            value = None if row is None else row[rate]
            small = row is not None and bool(row[f"{rate}_small_sample"])
            z_row.append(None if small else value)
            grey_row.append(1 if small else None)
            text_row.append("" if row is None else
                            ("–" if value is None else f"{value:.0%}") + f"<br>{row['leads']:,} leads")
        z.append(z_row)
        grey.append(grey_row)
        text.append(text_row)
    x, y = chart_texts(acrosses), chart_texts(downs)
    label = _rate_name(rate)
    figure = _figure(title or f"{label} by {column_label(first)} × {column_label(second)}",
                     xaxis_title=chart_text(column_label(second)), yaxis_title=chart_text(column_label(first)),
                     height=max(360, 120 + 34 * len(downs)), yaxis={"autorange": "reversed", "automargin": True},
                     xaxis={"side": "top", "tickangle": 0, "automargin": True}, plot_bgcolor="#FFFFFF")
    figure.add_trace(go.Heatmap(x=x, y=y, z=grey, text=text, texttemplate="%{text}", showscale=False,
                                colorscale=[[0, "#CFCFCF"], [1, "#CFCFCF"]], xgap=2, ygap=2, textfont={"size": 11,
                                                                                                      "color": "#555"},
                                name="small sample", hovertemplate="%{y} × %{x}: small sample<br>%{text}<extra></extra>"))
    values = [v for line in z for v in line if v is not None]
    figure.add_trace(go.Heatmap(
        x=x, y=y, z=z, text=text, texttemplate="%{text}", textfont={"size": 11}, colorscale="Blues", zmin=0,
        zmax=max(values) if values and max(values) > 0 else 1, xgap=2, ygap=2, name=chart_text(label),
        colorbar={"title": {"text": chart_text(label)}, "tickformat": ".0%"},
        hovertemplate="%{y} × %{x}: %{z:.1%}<br>%{text}<extra></extra>"))
    figure.add_annotation(x=0, y=-0.02, xref="paper", yref="paper", yanchor="top", xanchor="left", showarrow=False,
                          text="Grey: small sample, the rate is too uncertain to compare.",
                          font={"size": 11, "color": "#666"})
    return figure
