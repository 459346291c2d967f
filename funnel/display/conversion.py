"""Conversion compared between two periods: the same steps side by side."""

from __future__ import annotations

import polars as pl


def period_comparison(now: pl.DataFrame, before: pl.DataFrame) -> pl.DataFrame:
    """One row per step: entered and rate in this period and the previous one, and the change in points
    (null when either rate is undefined). Both inputs are total `stage_conversion` tables."""
    keep = ["from_stage", "to_stage", "entered", "rate"]
    earlier = before.select(keep).rename({"entered": "entered_before", "rate": "rate_before"})
    return (now.select(keep).join(earlier, on=["from_stage", "to_stage"], how="left", maintain_order="left")
            .with_columns(((pl.col("rate") - pl.col("rate_before")) * 100).round(1).alias("change_pts")))
