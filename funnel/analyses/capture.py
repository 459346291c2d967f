"""Capture audit: which segmentation fields leads carry, by entry point, and which fields earn
their place on a form (how much knowing them goes with later conversion).

A field is filled when the lead has it, or its account does (firmographics). The entry point is
the lead's source, or the first campaign or the first page (URL) its activities record by D (the
earliest activity carrying one; at the same moment, the first activity id in text order). Conversion is reaching a
lifecycle stage (default `sql`) by D. Lift is a difference in conversion between leads with and
without the field, with Wilson intervals for each rate and a two-proportion test, Benjamini–
Hochberg controlled across the fields; it is association, not cause (fields filled late are
often filled *because* sales worked the lead).

Fill by age (`fill_by_age`) is a cross-section at D: leads 0–7, 8–30, 31–90 and 90+ days old,
each with the values the store holds now; older leads were also captured by older forms. The
same leads followed over time (`fill_panel`) come from the store's versions: every import of the
leads table keeps the versions it replaced. A lead's first version is the one held by the first
leads import that held it; its version "k days later" is the one in force at the first leads import
made at least k days after that (the next monthly export, not the version still in force on day k,
which for imports a month apart would be the first one again). The clock starts at the first import,
not at created_at: the store saw no version before it, and a backfill's old leads would otherwise
have no first version to compare. Only leads with a version at both points count, so the panel
never holds more leads than the cross-section; with one leads import there is no panel (see
`fill_panel_sentence`). Accounts are read as stored now, so a firmographic filled on the account
counts at both points.

Form funnels (`form_funnels`) count known leads only: a view is any recorded activity of a lead
on the form's page (a page-view type, funnel.schema.VIEW_TYPES) before it submitted. Anonymous visitors who never
submitted are in web analytics, not in CRM or marketing exports, so completion here is an upper bound on the true
form completion rate; a form with no recorded views has no completion rate (null), not 0. Each lead's first
submission and view of each form are kept in the lead model, cut at D when read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import duckdb
import polars as pl

from funnel import schema as sc
from funnel.config import Settings
from funnel.errors import FunnelError
from funnel.model import materialised
from funnel.model.scoring import seniority_of
from funnel.stats import bh_adjusted, two_proportion_p_value, wilson_interval
from funnel.store.db import frame, scalar
from funnel.store.queries import bound_params, sql_text

__all__ = [
    "CAPTURE_FIELDS",
    "ENTRY_POINTS",
    "CaptureAudit",
    "audited_fields",
    "capture_audit",
    "capture_frame",
    "data_quality_counts",
    "data_quality_note",
    "data_quality_note_of",
    "field_conversion_lift",
    "field_fill_rates",
    "fill_by_age",
    "fill_by_age_views",
    "fill_panel",
    "fill_panel_sentence",
    "form_funnels",
    "lead_imports",
    "lead_needs",
    "lead_needs_query",
    "lead_versions",
    "same_lead_fill",
]

CAPTURE_FIELDS: tuple[str, ...] = ("title", "seniority", "phone", "company", "industry", "employees", "country")
AGE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (("0-7 days", 0, 7), ("8-30 days", 8, 30),
                                                         ("31-90 days", 31, 90), ("90+ days", 91, None))
PANEL_DAYS: tuple[int, ...] = (30, 90)  # the later points of the same-lead panel
MAX_ATTRIBUTES = 20  # attribute keys audited: the most common ones
ENTRY_POINTS: tuple[str, ...] = ("source", "campaign", "url")
FORM_COMPLETION_TARGET = 0.60  # seed two: form completion above 60%


def _until(as_of: date) -> datetime:
    return datetime.combine(as_of + timedelta(days=1), time())


def capture_frame(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date,
                  stage: str = "sql") -> pl.DataFrame:
    """One row per lead created by D (or undated): lead_id, source, campaign, url, created_at, a
    boolean per field in CAPTURE_FIELDS (seniority = the title names a level of the settings), one
    boolean per common attribute key (`attr:<key>`), owner, converted (reached `stage` by D)."""
    sql = sql_text("capture_fields", fragments={"capture_leads": _capture_leads(),
                                                "first_touch": materialised.first_touch_query(con)},
                   stage_events=sc.STAGE_EVENTS.name)
    raw = frame(con, sql, {"stage": stage, "until": _until(as_of)})
    return _field_flags(raw, settings=settings, keys=_common_attribute_keys(raw))


def _capture_leads() -> str:
    """capture_leads.sql on the store's leads and accounts: the fragment capture_fields and lead_needs share."""
    return sql_text("capture_leads", leads=sc.LEADS.name, accounts=sc.ACCOUNTS.name)


def _filled_attributes(rows: pl.DataFrame) -> pl.DataFrame:
    """One row per row index and filled attribute (non-blank value): row, key."""
    if not isinstance(rows.schema.get(sc.ATTRIBUTES), pl.List):  # map_entries: a list of {key, value}
        return pl.DataFrame(schema={"row": pl.UInt32, "key": pl.String})
    return (rows.select(sc.ATTRIBUTES).with_row_index("row").explode(sc.ATTRIBUTES).unnest(sc.ATTRIBUTES)
            .filter(pl.col("value").str.strip_chars().str.len_chars() > 0).select("row", "key"))


def _common_attribute_keys(rows: pl.DataFrame) -> list[str]:
    """The attribute keys filled on the most rows (at most MAX_ATTRIBUTES), most common first."""
    counts = _filled_attributes(rows).unique().group_by("key").len()
    return counts.sort(["len", "key"], descending=[True, False]).head(MAX_ATTRIBUTES).get_column("key").to_list()


def _field_flags(rows: pl.DataFrame, *, settings: Settings, keys: list[str]) -> pl.DataFrame:
    """Rows of a capture query with `seniority` (the title names a level of the settings) and one
    boolean per attribute key (`attr:<key>`, filled on that row); title text and attributes dropped."""
    out = rows.with_columns(seniority_of(pl.col("title_text"), settings).is_not_null().alias("seniority"))
    filled = _filled_attributes(rows)
    for key in keys:
        has = filled.filter(pl.col("key") == key).get_column("row")
        out = out.with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).is_in(has.implode()).alias(f"attr:{key}"))
    return out.drop("title_text", sc.ATTRIBUTES, strict=False)


def audited_fields(captured: pl.DataFrame) -> list[str]:
    """The fields a capture frame audits: CAPTURE_FIELDS, then its attribute keys."""
    return [*CAPTURE_FIELDS, *(c for c in captured.columns if c.startswith("attr:"))]


def field_fill_rates(captured: pl.DataFrame, *, by: str = "source") -> pl.DataFrame:
    """One row per entry-point value and field: by value (null = unknown), field, leads, filled,
    fill_rate, below_target (fill rate under the seed's 60%)."""
    if by not in ENTRY_POINTS:
        raise FunnelError(f"there is no entry point called {by!r}", hint=f"Use one of: {', '.join(ENTRY_POINTS)}")
    long = captured.unpivot(index=[by], on=audited_fields(captured), variable_name="field", value_name="filled")
    return (long.group_by(by, "field").agg(pl.len().alias("leads"), pl.col("filled").sum().alias("filled"))
            .with_columns((pl.col("filled") / pl.col("leads")).alias("fill_rate"))
            .with_columns((pl.col("fill_rate") < FORM_COMPLETION_TARGET).alias("below_target"))
            .sort([by, "field"], nulls_last=True))


def field_conversion_lift(captured: pl.DataFrame) -> pl.DataFrame:
    """One row per field: with/without leads and conversions, both rates with Wilson intervals,
    lift (rate with − rate without; null when a group is empty), p_value, q_value (BH)."""
    rows = []
    for field in audited_fields(captured):
        g = captured.group_by(field).agg(pl.len().alias("n"), pl.col("converted").sum().alias("s"))
        got = {k: (int(n), int(s)) for k, n, s in g.iter_rows()}
        n1, s1 = got.get(True, (0, 0))
        n0, s0 = got.get(False, (0, 0))
        r1 = s1 / n1 if n1 else None
        r0 = s0 / n0 if n0 else None
        lo1, hi1 = wilson_interval(s1, n1)
        lo0, hi0 = wilson_interval(s0, n0)
        rows.append({"field": field, "leads_with": n1, "converted_with": s1, "rate_with": r1, "with_low": lo1,
                     "with_high": hi1, "leads_without": n0, "converted_without": s0, "rate_without": r0,
                     "without_low": lo0, "without_high": hi0,
                     "lift": r1 - r0 if r1 is not None and r0 is not None else None,
                     "p_value": two_proportion_p_value(s1, n1, s0, n0)})
    floats = ("rate_with", "with_low", "with_high", "rate_without", "without_low", "without_high", "lift", "p_value")
    schema = {k: (pl.Float64() if k in floats else pl.String() if k == "field" else pl.Int64()) for k in rows[0]}
    out = pl.DataFrame(rows, schema=schema)
    return out.with_columns(pl.Series("q_value", bh_adjusted(out["p_value"].to_list()), dtype=pl.Float64))


NEEDS: dict[str, pl.Expr] = {"creation date": pl.col(sc.CREATED_AT).is_not_null(), "owner": pl.col("owner"),
                             "firmographics (industry and size)": pl.col("industry") & pl.col("employees")}


def data_quality_note(captured: pl.DataFrame, *, lead_ids: pl.Series | None = None) -> pl.DataFrame:
    """One row per thing a page's numbers need (creation date, owner, firmographics = industry and
    employees): leads (those behind the numbers, all when `lead_ids` is None), lacking, share
    (null when there are none)."""
    return data_quality_note_of(data_quality_counts(captured, lead_ids=lead_ids))


def data_quality_counts(captured: pl.DataFrame, *, lead_ids: pl.Series | None = None) -> pl.DataFrame:
    """What `data_quality_note` adds up, one row: leads, then the leads lacking each need (named as in NEEDS).
    The counts of two groups of leads, summed, are the counts of both."""
    leads = captured if lead_ids is None else captured.join(lead_ids.to_frame(sc.LEAD_ID), on=sc.LEAD_ID, how="semi")
    return leads.select(pl.len().cast(pl.Int64).alias("leads"),
                        *[(~expr).sum().cast(pl.Int64).alias(need) for need, expr in NEEDS.items()])


def data_quality_note_of(counts: pl.DataFrame) -> pl.DataFrame:
    """`data_quality_note` from its counts (`data_quality_counts`, summed over groups of leads)."""
    counted = counts.row(0, named=True)  # one row: sums of an empty frame are zeros
    rows = [{"need": need, "leads": counted["leads"], "lacking": counted[need]} for need in NEEDS]
    return pl.DataFrame(rows).with_columns(
        pl.when(pl.col("leads") > 0).then(pl.col("lacking") / pl.col("leads")).otherwise(None).alias("share"))


NEED_PHRASES = {"creation date": "a creation date", "owner": "an owner",
                "firmographics (industry and size)": "firmographics (industry and size)"}


def data_quality_sentence(note: pl.DataFrame) -> str | None:
    """`data_quality_note` as the one plain sentence a page shows beside its numbers; None without leads."""
    if note.is_empty() or not note.get_column("leads")[0]:
        return None
    lacking = ", ".join(f"{row['share']:.0%} lack {NEED_PHRASES.get(row['need'], row['need'])}"
                        for row in note.iter_rows(named=True))
    return f"Data behind these numbers: of {note.get_column('leads')[0]:,} leads, {lacking}."


def fill_by_age(captured: pl.DataFrame, *, as_of: date) -> pl.DataFrame:
    """One row per age bucket at D (AGE_BUCKETS, then "undated") and field: age, field, leads,
    filled, fill_rate. A cross-section at D, not a panel (see the module note)."""
    days = (pl.lit(as_of) - pl.col(sc.CREATED_AT).dt.date()).dt.total_days()
    bucket = pl.lit("undated")
    for name, low, high in reversed(AGE_BUCKETS):
        inside = (days >= low) if high is None else days.is_between(low, high)
        bucket = pl.when(pl.col(sc.CREATED_AT).is_not_null() & inside).then(pl.lit(name)).otherwise(bucket)
    order = [b[0] for b in AGE_BUCKETS] + ["undated"]
    long = (captured.with_columns(bucket.alias("age"))
            .unpivot(index=["age"], on=audited_fields(captured), variable_name="field", value_name="filled"))
    return (long.group_by("age", "field").agg(pl.len().alias("leads"), pl.col("filled").sum().alias("filled"))
            .with_columns((pl.col("filled") / pl.col("leads")).alias("fill_rate"),
                          pl.col("age").cast(pl.Enum(order)))
            .sort(["age", "field"]).with_columns(pl.col("age").cast(pl.String)))


def lead_imports(con: duckdb.DuckDBPyConnection, *, as_of: date) -> int:
    """How many imports of the leads table the store holds from before the end of D (removed ones not)."""
    return int(scalar(con, f"SELECT count(*) FROM {sc.IMPORTS} WHERE table_name = $t AND removed_at IS NULL "
                           "AND imported_at < $until", {"t": sc.LEADS.name, "until": _until(as_of)}) or 0)


def lead_versions(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date, keys: list[str],
                  days: tuple[int, ...] = PANEL_DAYS) -> pl.DataFrame:
    """One row per lead (record id as imported) and panel point (days = 0: first imported version;
    each of `days`: the version at the first leads import at least that many days later; see the
    module note): lead_id, days, seen_at, a boolean per field of CAPTURE_FIELDS and per attribute key
    in `keys` (`attr:<key>`)."""
    sql = sql_text("capture_lead_versions", imports=sc.IMPORTS, accounts=sc.ACCOUNTS.name)
    raw = frame(con, sql, {"until": _until(as_of), "later_days": list(days)})
    return _field_flags(raw, settings=settings, keys=keys)


def _share(filled: str) -> pl.Expr:
    """`filled` / leads, null without leads."""
    return pl.when(pl.col("leads") > 0).then(pl.col(filled) / pl.col("leads")).otherwise(None)


def fill_panel(versions: pl.DataFrame, *, fields: list[str], lead_ids: pl.Series | None = None) -> pl.DataFrame:
    """One row per later point and field: days, field, leads (with a version at the first import and
    at that point; among `lead_ids` when given, the cross-section's leads), filled_first, fill_first,
    filled_later, fill_later, fill_change (fill_later − fill_first; rates null with no leads)."""
    if lead_ids is not None:
        versions = versions.join(lead_ids.to_frame(sc.LEAD_ID), on=sc.LEAD_ID, how="semi")
    present = [f for f in fields if f in versions.columns]
    first = versions.filter(pl.col("days") == 0).select(sc.LEAD_ID, *(pl.col(f).alias(f"{f}\x00first") for f in present))
    both = versions.filter(pl.col("days") > 0).select(sc.LEAD_ID, "days", *present).join(first, on=sc.LEAD_ID)
    sums = both.group_by("days").agg(pl.len().cast(pl.Int64).alias("leads"),
                                     *(pl.col(f).sum().cast(pl.Int64) for f in present),
                                     *(pl.col(f"{f}\x00first").sum().cast(pl.Int64) for f in present))
    later = sums.unpivot(index=["days", "leads"], on=present, variable_name="field", value_name="filled_later")
    earlier = sums.unpivot(index=["days"], on=[f"{f}\x00first" for f in present], variable_name="field",
                           value_name="filled_first").with_columns(pl.col("field").str.replace("\x00first", "",
                                                                                              literal=True))
    order = {f: i for i, f in enumerate(fields)}
    return (later.join(earlier, on=["days", "field"])
            .with_columns(_share("filled_first").alias("fill_first"), _share("filled_later").alias("fill_later"))
            .with_columns((pl.col("fill_later") - pl.col("fill_first")).alias("fill_change"),
                          pl.col("field").replace_strict(order, default=len(order)).alias("_order"))
            .sort("days", "_order").select("days", "field", "leads", "filled_first", "fill_first",
                                           "filled_later", "fill_later", "fill_change"))


def fill_panel_sentence(panel: pl.DataFrame, *, imports: int, days: tuple[int, ...] = PANEL_DAYS) -> str:
    """What the same-lead panel rests on, in one plain sentence (or why there is none)."""
    if imports < 2:
        return ("The store holds only one import of the leads table by this date, so no lead can be followed "
                "over time: the cross-section below (leads of each age today) is what there is. Import next "
                "month's export of the same CRM to see the same leads fill up.")
    counts = {d: (panel.filter(pl.col("days") == d).get_column("leads").max() or 0) for d in days}
    if not any(counts.values()):
        return (f"The store holds {imports} imports of the leads table, but none made at least {min(days)} days "
                f"after an earlier import that held the same leads: no lead can be followed over time yet, so the "
                f"cross-section below (leads of each age today) is what there is.")
    parts = ", ".join(f"{n:,} leads have a version {d}+ days after their first import" for d, n in counts.items())
    return (f"The same leads over time, from {imports} imports of the leads table: the version each lead had "
            f"at the first import that held it against the one at the first import at least 30 or 90 days "
            f"later ({parts}). Only leads with a version at both points count.")


def fill_by_age_views(age: pl.DataFrame, panel: pl.DataFrame) -> pl.DataFrame:
    """`fill_panel` then `fill_by_age` in one long table, one row per view, age and field: view ("same
    leads" or "leads of each age at D"), age ("first import → k+ days later", or the age bucket), field,
    leads, fill_first (same leads only), fill_rate (later, or at D), fill_change (same leads only)."""
    same = panel.select(pl.lit("same leads").alias("view"),
                        pl.format("first import → {}+ days later", "days").alias("age"), "field", "leads",
                        "fill_first", pl.col("fill_later").alias("fill_rate"), "fill_change")
    cross = age.select(pl.lit("leads of each age at D").alias("view"), "age", "field",
                       pl.col("leads").cast(pl.Int64), pl.lit(None, dtype=pl.Float64).alias("fill_first"),
                       "fill_rate", pl.lit(None, dtype=pl.Float64).alias("fill_change"))
    return pl.concat([same.cast(cross.schema), cross])


def form_funnels(con: duckdb.DuckDBPyConnection, *, as_of: date) -> pl.DataFrame:
    """One row per form (URL path of a submission): form, viewers, submitters, viewed_then_submitted,
    completion (viewed_then_submitted / viewers; null with no recorded views), below_target (< 60%),
    known leads only (see the module note)."""
    sql = sql_text("form_funnels", fragments={"form_touches": materialised.form_touch_query(con)})
    forms = frame(con, sql, bound_params(sql, materialised.FORM_TOUCH_TYPES | {"until": _until(as_of)}))
    return forms.with_columns(
        pl.when(pl.col("viewers") > 0).then(pl.col("viewed_then_submitted") / pl.col("viewers"))
        .otherwise(None).alias("completion")
    ).with_columns((pl.col("completion") < FORM_COMPLETION_TARGET).alias("below_target")).sort("form")


@dataclass(frozen=True)
class CaptureAudit:
    """The capture audit's tables (each documented where it is made)."""

    age: pl.DataFrame  # fill_by_age (cross-section)
    panel: pl.DataFrame  # fill_panel (same leads over time)
    panel_note: str  # fill_panel_sentence
    forms: pl.DataFrame  # form_funnels
    lift: pl.DataFrame  # field_conversion_lift
    quality: pl.DataFrame  # data_quality_note over every lead


def capture_audit(con: duckdb.DuckDBPyConnection, *, settings: Settings, as_of: date,
                  captured: pl.DataFrame | None = None) -> CaptureAudit:
    """Every capture table as of D but the fill rates by entry point (`field_fill_rates` of the same
    `captured`, the capture frame at D, read here when not given), from one read of the store."""
    if captured is None:
        captured = capture_frame(con, settings=settings, as_of=as_of)
    panel, note = same_lead_fill(con, captured, settings=settings, as_of=as_of)
    return CaptureAudit(fill_by_age(captured, as_of=as_of), panel, note, form_funnels(con, as_of=as_of),
                        field_conversion_lift(captured), data_quality_note(captured))


def same_lead_fill(con: duckdb.DuckDBPyConnection, captured: pl.DataFrame, *, settings: Settings,
                   as_of: date) -> tuple[pl.DataFrame, str]:
    """`fill_panel` over the cross-section's leads and fields, with its `fill_panel_sentence`."""
    fields = audited_fields(captured)
    keys = [f.removeprefix("attr:") for f in fields if f.startswith("attr:")]
    versions = lead_versions(con, settings=settings, as_of=as_of, keys=keys)
    panel = fill_panel(versions, fields=fields, lead_ids=captured.get_column(sc.LEAD_ID))
    return panel, fill_panel_sentence(panel, imports=lead_imports(con, as_of=as_of))


def lead_needs(con: duckdb.DuckDBPyConnection, *, as_of: date) -> pl.DataFrame:
    """One row per lead at D with only what `data_quality_note` reads (lead_needs.sql: no first touches,
    conversions or attributes): lead_id, created_at, owner, industry, employees (filled or not)."""
    return frame(con, *lead_needs_query(as_of))


def lead_needs_query(as_of: date) -> tuple[str, dict[str, object]]:
    """(sql, params) of `lead_needs`: what an engine runs per group of leads."""
    return sql_text("lead_needs", fragments={"capture_leads": _capture_leads()}), {"until": _until(as_of)}

