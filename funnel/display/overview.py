"""The Overview's numbers: headline KPIs and the stage changes between two dates, from the core analyses."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import polars as pl

from funnel.analyses.deals import only_wins_text
from funnel.filters import Filters

# The Overview compares the as-of date with this many days earlier.
COMPARISON_DAYS = 30

# (kpi label, column of segment_performance's total row, kind, help)
KPIS: tuple[tuple[str, str, str, str], ...] = (
    ("Leads", "leads", "count", "Leads created on or before the as-of date."),
    ("Reached MQL", "reached_mql", "count", "Leads that ever entered MQL by the as-of date."),
    ("Reached SQL", "reached_sql", "count", "Leads that ever entered SQL by the as-of date."),
    ("Reached customer", "reached_customer", "count",
     "Leads that became customers by the as-of date (the stage distribution counts where leads are now)."),
    ("Customer rate", "reached_customer_rate", "rate", "Share of all leads that became customers."),
    ("Win rate", "win_rate", "rate", "Won deals / closed deals of these leads."),
)


def comparison_filters(filters: Filters) -> Filters:
    """The same view as of `COMPARISON_DAYS` days before the as-of date: what the Overview compares with."""
    return replace(filters, as_of=filters.as_of - timedelta(days=COMPARISON_DAYS))


def has_no_leads(performance: pl.DataFrame) -> bool:
    """True when the total row of `segment_performance` counts no lead (the as-of date is before the data)."""
    return performance.height > 0 and int(performance.get_column("leads")[0]) == 0


def win_rate_note(now: pl.DataFrame) -> str | None:
    """The caveat for the headline win rate when every closed deal of these leads is won (an export of wins
    only), from the total row of a `segment_performance` table; None otherwise."""
    if now.height == 0:
        return None
    total = now.row(0, named=True)
    return only_wins_text(closed=total.get("closed_deals"), won=total.get("won_deals"))


def headline_kpis(now: pl.DataFrame, before: pl.DataFrame) -> pl.DataFrame:
    """One row per KPI: kpi, value (text), change (text vs `before`), delta_color, help.

    `now` and `before` are `segment_performance` tables; their first row is the total."""
    rows = []
    if now.height == 0:
        return pl.DataFrame(schema={"kpi": pl.String, "value": pl.String, "change": pl.String,
                                    "delta_color": pl.String, "help": pl.String})
    current = now.row(0, named=True)
    previous = before.row(0, named=True) if before.height else {}
    for label, column, kind, help_text in KPIS:
        if column not in current:
            continue
        value, old = current.get(column), previous.get(column)
        if kind == "count":
            text = "–" if value is None else f"{int(value):,}"
            change = None if value is None or old is None else f"{int(value) - int(old):+,}"
        else:
            text = "–" if value is None else f"{value:.1%}"
            # `+ 0.0` turns a change that rounds to -0.0 into +0.0: no red "-0.0 pts" for no change
            change = None if value is None or old is None else f"{round((value - old) * 100, 1) + 0.0:+.1f} pts"
        rows.append({"kpi": label, "value": text, "change": change, "delta_color": "normal", "help": help_text})
    return pl.DataFrame(rows, schema={"kpi": pl.String, "value": pl.String, "change": pl.String,
                                      "delta_color": pl.String, "help": pl.String})


def stage_changes(now: pl.DataFrame, before: pl.DataFrame) -> pl.DataFrame:
    """One row per stage: leads now, share now, leads at the earlier date, change (both
    `stage_distribution` totals; the stage order of `now` is kept)."""
    def totals(frame: pl.DataFrame) -> pl.DataFrame:
        segment_columns = [c for c in frame.columns if c not in ("stage", "leads", "share")]
        if segment_columns:
            frame = frame.filter(pl.all_horizontal([pl.col(c).is_null() for c in segment_columns]))
        return frame.select(pl.col("stage").cast(pl.String).fill_null("(no stage yet)"), "leads", "share")

    current, earlier = totals(now), totals(before).rename({"leads": "leads_before", "share": "share_before"})
    return (current.join(earlier, on="stage", how="left", maintain_order="left")
            .with_columns(pl.col("leads_before").fill_null(0))
            .with_columns((pl.col("leads") - pl.col("leads_before")).alias("change"))
            .select("stage", "leads", "share", "leads_before", "change"))
