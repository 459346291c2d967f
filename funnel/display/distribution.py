"""The stage distribution as a person reads it."""

from __future__ import annotations

import polars as pl

from funnel.analyses.drilldown import NO_STAGE


def named_stages(distribution: pl.DataFrame) -> pl.DataFrame:
    """`stage_distribution` with leads in no stage yet named NO_STAGE (the name the drill-down takes)."""
    return distribution.with_columns(distribution.get_column("stage").cast(str).fill_null(NO_STAGE))
