"""The segment table as a person reads it: one column per rate with its interval and verdict."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from funnel.display.labels import stage_label

EVERYONE = "everyone"  # the name of a table's total row, whose segment columns are empty


def named_segments(by: Sequence[str]) -> list[pl.Expr]:
    """The segment columns `by` as text with the total row named: the first one's empty value (the row of
    every lead or deal) reads "everyone", the others' empty values are blank."""
    return [pl.col(d).cast(pl.String).fill_null(EVERYONE if i == 0 else "").alias(d) for i, d in enumerate(by)]


def total_named(frame: pl.DataFrame, by: Sequence[str]) -> pl.DataFrame:
    """`frame` (a table by the segment columns `by`, total row included) with its total row named "everyone",
    so it does not read as a segment whose value is missing (`named_segments`). Same rows, same order."""
    return frame.with_columns(named_segments(by)) if by else frame


def rate_prefixes(performance: pl.DataFrame) -> list[str]:
    """The rates of a `segment_performance` table, in order (reached_mql_rate, …, win_rate)."""
    return [c for c in performance.columns if c.endswith("_rate") and f"{c}_lo" in performance.columns]


def percent_columns(table: pl.DataFrame) -> list[str]:
    """The columns of a segment table (full or readable) that hold shares and rates, shown as percents."""
    return [c for c in table.columns if c == "share" or c.endswith(("_rate", "_lo", "_hi"))]


def chartable_rates(performance: pl.DataFrame) -> tuple[list[str], int]:
    """The rate columns a segment chart can show, and the index of the default (reach of customer)."""
    rates = [c for c in performance.columns if c.endswith("_rate") and not c.startswith("_")]
    return rates, rates.index("reached_customer_rate") if "reached_customer_rate" in rates else 0


def segment_label(row: dict, by: Sequence[str]) -> str:
    """A table row's segment as text ("Organic search / SaaS"), or "all leads" for the total row."""
    if not by or any(row.get(d) is None for d in by):
        return "all leads"
    return " / ".join(str(row[d]) for d in by)


def important_first(readable: pl.DataFrame, *, by: Sequence[str]) -> list[str]:
    """The readable table's columns with the ones a person looks at first right after the segment, leads and
    share: the reach of the ladder's last stage and the win rate (each with its verdict), then the others, so
    they stay in view without scrolling sideways."""
    reach = [c for c in readable.columns if c.startswith("→ ") and not c.endswith(" vs rest")]
    first = [*(reach[-1:]), "Win rate"]
    head = [c for c in readable.columns[:len(by) or 1]] + ["leads", "share"]
    lead = [c for name in first for c in (name, f"{name} vs rest") if c in readable.columns]
    return [*head, *lead, *[c for c in readable.columns if c not in head and c not in lead]]


def rate_text(prefix: str) -> pl.Expr:
    """The rate in column `prefix` with its 95% interval (`<prefix>_lo`, `<prefix>_hi`) as one text, like
    "26.5% (24.9–28.1)"; "–" when the rate is undefined."""
    return pl.when(pl.col(prefix).is_null()).then(pl.lit("–")).otherwise(
        pl.format("{}% ({}–{})", (pl.col(prefix) * 100).round(1), (pl.col(f"{prefix}_lo") * 100).round(1),
                  (pl.col(f"{prefix}_hi") * 100).round(1)))


def readable_deals(deals: pl.DataFrame, *, by: str) -> pl.DataFrame:
    """A `deal_performance` table as the Segments page shows it, narrow enough for 1440 px: the total row
    named "everyone" (not an empty segment), and the win rate with its interval as one text as in the segment
    table. Same rows in the same order."""
    return (total_named(deals, [by]).with_columns(rate_text("win_rate").alias("win_rate"))
            .drop("win_rate_lo", "win_rate_hi")
            .rename({"win_rate": "Win rate (95% interval)"}))


def readable_segments(performance: pl.DataFrame, *, by: Sequence[str]) -> pl.DataFrame:
    """One row per segment (everyone first): the segment, leads, share, then per rate a text like
    "26.5% (24.9–28.1)" and a verdict ("higher", "lower", "small sample" or empty), then the median
    days to customer and the won amount."""
    columns = named_segments(by) or [pl.lit(EVERYONE).alias("segment")]
    columns += [pl.col("leads"), pl.col("share")]
    for prefix in rate_prefixes(performance):
        label = "Win rate" if prefix == "win_rate" else f"→ {stage_label(prefix.removeprefix('reached_').removesuffix('_rate'))}"
        columns.append(rate_text(prefix).alias(label))
        overall = pl.lit(performance.get_column(prefix)[0] if performance.height else None, dtype=pl.Float64)
        verdict = (pl.when(pl.col(f"{prefix}_small_sample")).then(pl.lit("small sample"))
                   .when(pl.col(f"{prefix}_significant") & (pl.col(prefix) > overall)).then(pl.lit("higher"))
                   .when(pl.col(f"{prefix}_significant") & (pl.col(prefix) < overall)).then(pl.lit("lower"))
                   .otherwise(pl.lit("")))
        columns.append(verdict.alias(f"{label} vs rest"))
    columns += [pl.col("median_days_to_customer"), pl.col("won_amount").round(0)]
    return performance.select(columns)
