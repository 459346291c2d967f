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


def _figure(title: str, **layout) -> go.Figure:
    figure = go.Figure()
    figure.update_layout(title={"text": chart_text(title)}, **LAYOUT, **layout)
    return figure


def funnel_chart(cumulative: pl.DataFrame, *, by: Sequence[str] = (),
                 title: str = "Leads reaching each stage") -> go.Figure:
    """A funnel of `cumulative_conversion` (stage, reached, rate): leads of the cohort that got at
    least this far, with the share of the cohort."""
    rows = _total_rows(cumulative, by)
    stages = _labels(rows.get_column("stage").cast(pl.String).to_list())
    figure = _figure(title, yaxis_title="Stage")
    figure.add_trace(go.Funnel(
        y=chart_texts(stages), x=rows.get_column("reached").to_list(),
        text=[f"{r:.1%}" if r is not None else "–" for r in rows.get_column("rate").to_list()],
        textinfo="value+text", marker={"color": [stage_colors(stages)[s] for s in stages]},
        hovertemplate="%{y}: %{x:,} leads (%{text} of the cohort)<extra></extra>", name="Leads"))
    return figure


def outcomes_bar(conversion: pl.DataFrame, *, by: Sequence[str] = (),
                 title: str = "Outcome of every stage entry") -> go.Figure:
    """Stacked horizontal bars of `stage_conversion`: per step, entries advanced, lost, expired and
    still open (they add up to the entries), with the rate in the hover."""
    rows = _total_rows(conversion, by)
    steps = [f"{chart_text(a)} → {chart_text(b)}" for a, b in zip(rows.get_column("from_stage").cast(pl.String).to_list(),
                                          rows.get_column("to_stage").cast(pl.String).to_list(), strict=True)]
    rates = ["–" if r is None else f"{r:.1%}" for r in rows.get_column("rate").to_list()]
    figure = _figure(title, barmode="stack", xaxis_title="Stage entries", yaxis_title="Step",
                     yaxis={"categoryorder": "array", "categoryarray": steps[::-1]}, legend_title_text="Outcome")
    for outcome, color in OUTCOME_COLORS.items():
        figure.add_trace(go.Bar(
            y=steps, x=rows.get_column(outcome).to_list(), name=outcome.capitalize(), orientation="h",
            marker={"color": color}, customdata=rates,
            hovertemplate=f"%{{y}}: %{{x:,}} {outcome} (conversion rate %{{customdata}})<extra></extra>"))
    return figure


def cohort_heatmap(cohorts: pl.DataFrame, *, by: Sequence[str] = (),
                   title: str = "Conversion rate by entry month") -> go.Figure:
    """A heatmap of `conversion_cohorts`: entry month × step, colored by rate (blank when nothing
    was decided), entries in the hover."""
    rows = _total_rows(cohorts, by)
    order = _stage_order(rows, "from_stage")
    pairs = sorted({(r["from_stage"], r["to_stage"]) for r in rows.iter_rows(named=True)},
                   key=lambda pair: order.index(pair[0]))
    steps = [f"{chart_text(a)} → {chart_text(b)}" for a, b in pairs]
    months = sorted(set(rows.get_column("cohort_month").to_list()))
    lookup = {(r["cohort_month"], f"{chart_text(r['from_stage'])} → {chart_text(r['to_stage'])}"): r for r in rows.iter_rows(named=True)}
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
    direction: up the ladder, down (recycled), to or back from a side state, new leads starting."""
    stages = _stage_order(flows, "to_stage")
    left = ["New lead", *[f"{chart_text(s)} (from)" for s in stages]]
    right = [f"{chart_text(s)} (to)" for s in stages]
    colors = stage_colors(stages)
    sources, targets, values, link_colors, labels = [], [], [], [], []
    for row in flows.iter_rows(named=True):
        origin = 0 if row["from_stage"] is None else 1 + stages.index(row["from_stage"])
        sources.append(origin)
        targets.append(len(left) + stages.index(row["to_stage"]))
        values.append(row["moves"])
        link_colors.append(DIRECTION_COLORS.get(row["direction"], "rgba(150,150,150,0.4)"))
        labels.append(chart_text(row["direction"]))
    figure = _figure(title)
    figure.add_trace(go.Sankey(
        arrangement="snap",
        node={"label": left + right, "pad": 14, "thickness": 14,
              "color": ["#BAB0AC"] + [colors[s] for s in stages] + [colors[s] for s in stages]},
        link={"source": sources, "target": targets, "value": values, "color": link_colors, "customdata": labels,
              "hovertemplate": "%{source.label} → %{target.label}: %{value:,} moves (%{customdata})<extra></extra>"}))
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
            name=chart_text(label), mode="lines", stackgroup="stages", line={"width": 0.5, "color": colors[label]},
            hovertemplate=f"{chart_text(label)}: %{{y:{'.1%' if share else ','}}}<extra></extra>"))
    return figure


def aging_histogram(buckets: pl.DataFrame, *, by: Sequence[str] = (),
                    title: str = "Days in the current stage") -> go.Figure:
    """Grouped bars of `aging_buckets`: leads per aging bucket, one bar per stage in ladder order
    (entries without a date left out)."""
    rows = _total_rows(buckets, by).filter(pl.col("bucket").is_not_null())
    stages = _stage_order(rows, "stage")
    labels = _stage_order(rows, "bucket")
    colors = stage_colors(stages)
    figure = _figure(title, barmode="group", xaxis_title="Days in stage", yaxis_title="Leads",
                     legend_title_text="Stage", xaxis={"categoryorder": "array", "categoryarray": chart_texts(labels)})
    for stage in stages:
        part = rows.filter(pl.col("stage") == stage)
        if not sum(part.get_column("leads").to_list()):
            continue
        counts = dict(zip(part.get_column("bucket").cast(pl.String).to_list(), part.get_column("leads").to_list(),
                          strict=True))
        figure.add_trace(go.Bar(x=chart_texts(labels), y=[counts.get(b, 0) for b in labels], name=chart_text(stage),
                                marker={"color": colors[stage]},
                                hovertemplate=f"{chart_text(stage)}, %{{x}} days: %{{y:,}} leads<extra></extra>"))
    return figure


def time_to_convert_chart(curve: pl.DataFrame, *, from_stage: str, to_stage: str,
                          title: str | None = None) -> go.Figure:
    """The Kaplan–Meier curve of `time_to_convert_curve`: share converted (1 − survival) by days
    since reaching from_stage, as a step line; leads not converted yet are censored, not failures."""
    days = [0.0, *curve.get_column("days").to_list()]
    converted = [0.0, *curve.get_column("converted_share").to_list()]
    at_risk = [curve.get_column("at_risk")[0] if curve.height else 0, *curve.get_column("at_risk").to_list()]
    figure = _figure(title or f"Time from {from_stage} to {to_stage}",
                     xaxis_title=f"Days since reaching {chart_text(from_stage)}",
                     yaxis_title=f"Share that reached {chart_text(to_stage)}", yaxis={"tickformat": ".0%", "range": [0, 1]})
    figure.add_trace(go.Scatter(
        x=days, y=converted, mode="lines", line={"shape": "hv", "color": PALETTE[0]}, name="Converted",
        customdata=at_risk, hovertemplate="Day %{x}: %{y:.1%} converted (%{customdata:,} still at risk)<extra></extra>"))
    for q, dash in ((0.5, "dash"), (0.9, "dot")):
        figure.add_hline(y=q, line={"dash": dash, "width": 1, "color": "#888"},
                         annotation_text=f"{q:.0%}", annotation_position="top left")
    return figure


def segment_rates_chart(performance: pl.DataFrame, *, by: Sequence[str], rate: str = "reached_customer_rate",
                        title: str | None = None) -> go.Figure:
    """Bars of one rate of `segment_performance` per segment with Wilson 95% error bars, the
    overall rate as a line; segments with a small sample are drawn pale."""
    segments = performance.filter(pl.any_horizontal([pl.col(c).is_not_null() for c in by]))
    total = _total_rows(performance, by)
    names = [" × ".join(chart_text(r[c]) for c in by) for r in segments.iter_rows(named=True)]
    values = segments.get_column(rate).to_list()
    low = segments.get_column(f"{rate}_lo").to_list()
    high = segments.get_column(f"{rate}_hi").to_list()
    small = segments.get_column(f"{rate}_small_sample").to_list()
    label = rate.removesuffix("_rate").replace("_", " ")
    figure = _figure(title or f"{label.capitalize()} rate by {' × '.join(by)}", xaxis_title=" × ".join(chart_texts(by)),
                     yaxis_title=chart_text(f"{label.capitalize()} rate"), yaxis={"tickformat": ".0%", "rangemode": "tozero"})
    figure.add_trace(go.Bar(
        x=names, y=values, name="Segment",
        error_y={"type": "data", "symmetric": False,
                 "array": [None if v is None or h is None else h - v for v, h in zip(values, high, strict=True)],
                 "arrayminus": [None if v is None or lo is None else v - lo for v, lo in zip(values, low, strict=True)]},
        marker={"color": ["#C9D6E8" if s else PALETTE[0] for s in small]},
        customdata=[[lo, h, "small sample" if s else ""] for lo, h, s in zip(low, high, small, strict=True)],
        hovertemplate="%{x}: %{y:.1%} (95% interval %{customdata[0]:.1%}–%{customdata[1]:.1%}) "
                      "%{customdata[2]}<extra></extra>"))
    overall = total.get_column(rate)[0] if total.height else None
    if overall is not None:
        figure.add_hline(y=overall, line={"dash": "dash", "color": "#E45756"},
                         annotation_text=f"All leads {overall:.1%}", annotation_position="top right")
    return figure
