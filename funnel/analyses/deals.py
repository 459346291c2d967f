"""Deals by the dimensions of their account: win rate, cycle length and open-deal age, for stores whose
deals belong to accounts rather than leads (Maven-style pipeline exports) as much as for lead funnels."""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from funnel.config import Settings
from funnel.errors import FunnelError
from funnel.filters import until
from funnel.model.history import ATTRIBUTE_PREFIX, attribute_keys, dimension_named, segment_text
from funnel.stats import km_quantiles_frame, with_rate
from funnel.store.db import frame
from funnel.store.queries import sql_text

DEAL_DIMENSIONS = ("industry", "size_band", "product", "owner", "country", "pipeline", "source", "account_id")


def deal_facts(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date,
               attribute: str | None = None) -> pl.DataFrame:
    """One row per deal created by the end of D, with its account's industry, country and size band, and the
    custom attribute `attribute` of its account (else of its lead)."""
    bands = settings.segments
    return frame(con, sql_text("deal_facts"), {
        "until": until(as_of), "as_of": as_of, "attribute": attribute,
        "bands": list(bands.size_bands), "band_labels": list(bands.size_band_labels())})


def deal_dimensions(con: duckdb.DuckDBPyConnection) -> list[str]:
    """What deals can be segmented by: DEAL_DIMENSIONS, then `attr:<key>` per custom attribute of the accounts
    or leads."""
    keys = sorted(set(attribute_keys(con, "accounts")) | set(attribute_keys(con, "leads")))
    return [*DEAL_DIMENSIONS, *(ATTRIBUTE_PREFIX + k for k in keys)]


def deal_dimension_named(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """The deal dimension a person means by `name`: one of DEAL_DIMENSIONS, or `attr:<key>` for a custom
    attribute of the accounts (or leads), by its plain key or `attr:<key>`; a FunnelError listing what can be
    used otherwise."""
    keys = sorted(set(attribute_keys(con, "accounts")) | set(attribute_keys(con, "leads")))
    named = dimension_named(name, keys, DEAL_DIMENSIONS)
    if named in DEAL_DIMENSIONS or named.removeprefix(ATTRIBUTE_PREFIX) in keys:
        return named
    usable = ", ".join([*DEAL_DIMENSIONS, *keys])
    raise FunnelError(f"deals cannot be segmented by {name!r}", column=name, hint=f"Use one of: {usable}")


def only_wins_note(performance: pl.DataFrame) -> str | None:
    """A caveat when every closed deal of a `deal_performance` table (its everyone row) is won: the export
    probably holds only won deals (Olist's closed-deals file does), so a 100% win rate says nothing."""
    everyone = performance.filter(pl.col(performance.columns[0]).is_null())
    if everyone.height == 0:
        return None
    return only_wins_text(closed=everyone.get_column("closed")[0], won=everyone.get_column("won")[0])


def segment_only_wins_note(performance: pl.DataFrame) -> str | None:
    """The same caveat for a `segment_performance` table (its total row, first): its win rate counts the
    leads' closed deals, so an export of wins only makes that column 100% too."""
    if performance.height == 0 or "closed_deals" not in performance.columns:
        return None
    return only_wins_text(closed=performance.get_column("closed_deals")[0], won=performance.get_column("won_deals")[0])


def only_wins_text(*, closed: int | None, won: int | None) -> str | None:
    """The only-wins caveat when `closed` deals (at least one) are all `won`; None otherwise."""
    if not closed or won != closed:
        return None
    return (f"All {closed:,} closed deals are won: the deals export seems to hold only wins (no lost deals), so the "
            "win rate is 100% by construction and says nothing about how often deals are lost. Import the lost "
            "deals too for a real win rate.")


def undated_deals(con: duckdb.DuckDBPyConnection) -> int:
    """How many deals have no creation date (and so are left out of `deal_performance`)."""
    return int(frame(con, sql_text("deals_undated")).item())


def undated_deals_text(count: int) -> str | None:
    """Why `count` deals (at least one) are missing from deals by their account; None when none are."""
    if not count:
        return None
    return (f"{count:,} deals have no creation date and are left out of this table: whether a deal existed at the "
            "as-of date, and its cycle length, are counted from it. Map the deals export's created date to "
            "created_at to include them.")


def deal_performance(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date, by: str) -> pl.DataFrame:
    """One row per value of `by` (everyone first, `by` null): deals, closed, won, win_rate with its Wilson
    interval and small-sample flag (null without closed deals), median and p80 cycle days (Kaplan–Meier:
    open deals censored at D), open deals and their median age in days, won amount."""
    attribute = by.removeprefix(ATTRIBUTE_PREFIX) if by.startswith(ATTRIBUTE_PREFIX) else None
    if by not in DEAL_DIMENSIONS and attribute is None:
        raise ValueError(f"deals cannot be segmented by {by!r}")
    column = "attribute" if attribute is not None else by
    deals = deal_facts(con, settings=settings, as_of=as_of, attribute=attribute).with_columns(
        segment_text(pl.col(column)).alias("segment"), pl.col("won").fill_null(False).alias("won_"))
    if deals.height == 0:
        return pl.DataFrame(schema={by: pl.String, "deals": pl.Int64, "closed": pl.Int64, "won": pl.Int64,
                                    "win_rate": pl.Float64, "win_rate_lo": pl.Float64, "win_rate_hi": pl.Float64,
                                    "small_sample": pl.Boolean, "median_cycle_days": pl.Float64,
                                    "p80_cycle_days": pl.Float64, "open_deals": pl.Int64,
                                    "median_open_age_days": pl.Float64, "won_amount": pl.Float64})
    sums = [pl.len().alias("deals"), pl.col("closed").sum().alias("closed"),
            (pl.col("won_") & pl.col("closed")).sum().alias("won"), (~pl.col("closed")).sum().alias("open_deals"),
            pl.col("cycle_days").filter(~pl.col("closed")).median().alias("median_open_age_days"),
            pl.col("amount").filter(pl.col("won_") & pl.col("closed")).sum().alias("won_amount")]
    table = pl.concat([deals.select(sums).with_columns(pl.lit(None, dtype=pl.String).alias("segment")),
                       deals.group_by("segment").agg(sums).sort("segment")], how="diagonal_relaxed")
    cycle = deals.filter(pl.col("cycle_days") >= 0).with_columns(pl.col("cycle_days").cast(pl.Float64))
    everyone = km_quantiles_frame(cycle, duration="cycle_days", observed="closed", by=None, quantiles=(0.5, 0.8))
    per = km_quantiles_frame(cycle, duration="cycle_days", observed="closed", by=["segment"], quantiles=(0.5, 0.8))
    km = pl.concat([everyone.with_columns(pl.lit(None, dtype=pl.String).alias("segment")), per],
                   how="diagonal_relaxed").select("segment", pl.col("p50").alias("median_cycle_days"),
                                                  pl.col("p80").alias("p80_cycle_days"))
    table = table.join(km, on="segment", how="left", nulls_equal=True)
    table = with_rate(table, successes="won", trials="closed", name="win_rate",
                      min_trials=settings.segments.min_sample)
    return table.select(pl.col("segment").alias(by), "deals", "closed", "won", "win_rate", "win_rate_lo",
                        "win_rate_hi", "small_sample", "median_cycle_days", "p80_cycle_days", "open_deals",
                        "median_open_age_days", "won_amount")
