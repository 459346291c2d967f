"""Whether a lead's field matches a criterion (the fit criteria, tags, routing `when` and territories)."""

from __future__ import annotations

import re

import polars as pl

from funnel.config import Criterion

__all__ = ["matches"]


def matches(criterion: Criterion, fields: pl.DataFrame) -> pl.Expr:
    """True where the lead's field matches the criterion (values, contains or [min, max]); an empty
    field never matches."""
    column = pl.col(criterion.field)
    text = column.cast(pl.String).str.strip_chars().str.to_lowercase()
    tests = []
    if criterion.values:
        tests.append(text.is_in([v.strip().lower() for v in criterion.values]))
    if criterion.contains:
        tests.append(pl.any_horizontal([text.str.contains(re.escape(c.strip().lower()))
                                        for c in criterion.contains]))
    if criterion.min is not None or criterion.max is not None:
        dtype = fields.schema[criterion.field]
        number = column.cast(pl.Float64) if dtype.is_numeric() else text.cast(pl.Float64, strict=False)
        bounded = pl.lit(True)
        if criterion.min is not None:
            bounded = bounded & (number >= criterion.min)
        if criterion.max is not None:
            bounded = bounded & (number <= criterion.max)
        tests.append(bounded)
    return pl.any_horizontal(tests).fill_null(False)
