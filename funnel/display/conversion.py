"""Conversion as a person reads it: two periods side by side, and the stages a time-to-convert question can span."""

from __future__ import annotations

import polars as pl

from funnel.config import Settings


def period_comparison(now: pl.DataFrame, before: pl.DataFrame) -> pl.DataFrame:
    """One row per step: entered and rate in this period and the previous one, and the change in points
    (null when either rate is undefined). Both inputs are total `stage_conversion` tables."""
    keep = ["from_stage", "to_stage", "entered", "rate"]
    earlier = before.select(keep).rename({"entered": "entered_before", "rate": "rate_before"})
    return (now.select(keep).join(earlier, on=["from_stage", "to_stage"], how="left", maintain_order="left")
            .with_columns(((pl.col("rate") - pl.col("rate_before")) * 100).round(1).alias("change_pts")))


def readable_steps(steps: pl.DataFrame, *, implicit: bool) -> pl.DataFrame:
    """The steps table as the page shows it, narrow enough to read at 1440 px without scrolling sideways: only
    the count the skipped-stage policy in force fills (implied entries under implicit, left-out ones under
    strict; the other is 0 on every row), and the rate's 95% interval as one text ("41.1–50.3%", "—" when the
    rate is undefined). Same rows in the same order as `steps`, so a selected row points into it."""
    unused = "excluded" if implicit else "implied"
    interval = pl.when(pl.col("rate").is_null()).then(pl.lit("—")).otherwise(
        pl.format("{}–{}%", (pl.col("rate_lo") * 100).round(1), (pl.col("rate_hi") * 100).round(1)))
    return (steps.with_columns(interval.alias("rate_interval"))
            .drop(unused, "rate_lo", "rate_hi"))


def time_to_convert_starts(settings: Settings, ladder: str) -> tuple[list[str], int]:
    """The stages a time-to-convert question can start from (every stage but the last) and the default
    (the third stage, or the last start on a short ladder)."""
    stages = list(settings.ladders.stages(ladder))
    return stages[:-1], min(2, len(stages) - 2)


def time_to_convert_ends(settings: Settings, ladder: str, from_stage: str) -> list[str]:
    """The stages after `from_stage` (the default is the last)."""
    stages = list(settings.ladders.stages(ladder))
    return stages[stages.index(from_stage) + 1:]
