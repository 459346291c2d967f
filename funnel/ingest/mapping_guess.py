"""The guided mapper: a proposed mapping for an export nobody recognised (or one recognised with columns
left over that could fill what analyses need), what it still lacks, stage values mapped onto the lifecycle
ladder, and the TOML that saves it so next month's export of the same shape imports in one step."""

from __future__ import annotations

import re
import tomllib
from datetime import datetime
from typing import Any

import duckdb
import polars as pl

from funnel.config import Settings
from funnel.ingest.mapping import DEFAULT_DATE_FORMATS, Mapping, identity_section, mapping_from_text
from funnel.ingest.presets import all_presets
from funnel.schema import SAVED_MAPPINGS, TABLES, Kind, normalise_name
from funnel.store.db import frame, scalar

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NUMBER = re.compile(r"^[\s$€£(+-]*\d[\d,.\s]*\)?\s*$")
SAMPLE_ROWS = 500
# Two-valued outcome flags ("Converted" 0/1, "Is customer" yes/no): read as lifecycle customer / lead.
TRUE_VALUES = ("1", "true", "yes", "y")
FALSE_VALUES = ("0", "false", "no", "n")
OUTCOME_WORDS = {"converted", "conversion", "won", "customer", "closed"}
# Canonical columns without which whole pages stay empty: a stage or outcome, dates, an owner.
ANALYSIS_COLUMNS: dict[str, tuple[str, ...]] = {"leads": ("lifecycle_stage", "created_at", "owner"),
                                                "deals": ("won", "stage", "closed_at", "owner")}
# ... unless another mapped column gives the same: a deal's outcome also comes from a stage holding won/lost.
SUPPLIED_BY: dict[str, str] = {"won": "stage"}

# What each analysis needs beyond a table's required columns, in the users' words.
NEEDS: dict[str, tuple[tuple[str, str], ...]] = {
    "leads": (("created_at", "dates for trends, conversion windows and aging (created_at or stage dates)"),
              ("lifecycle_stage", "a current stage for the distribution"),
              ("source", "segments by lead source"), ("owner", "routing, owners and handoff"),
              ("email", "duplicate checks"), ("account_id", "firmographics from accounts (fit)")),
    "deals": (("lead_id", "win rate per lead and segment"), ("closed_at", "time to close"),
              ("amount", "won amount"), ("won", "win rate (or a stage containing won/lost)")),
    "accounts": (("industry", "fit and segments by industry"), ("employees", "size bands and fit")),
    "activities": (("url", "page types from URLs (pricing, case studies …)"),),
    "stage_events": (("reason", "recycle reasons"),),
    "intent_signals": (("surge", "surge points in the intent score"),),
}


def value_kinds(values: pl.Series) -> dict[str, float]:
    """Shares of a column's non-empty sample values that look like an e-mail, a date, a number."""
    sample = [v.strip() for v in values.drop_nulls().head(SAMPLE_ROWS).cast(pl.String).to_list() if v.strip()]
    if not sample:
        return {"email": 0.0, "date": 0.0, "number": 0.0}
    n = len(sample)
    return {"email": sum(bool(EMAIL.match(v)) for v in sample) / n,
            "date": sum(is_date(v) for v in sample) / n,
            "number": sum(bool(NUMBER.match(v)) for v in sample) / n}


# Every default date format starts with a four-digit year and a '-' or '/' (as strptime's %Y reads it): a text
# that does not is no date, and is told so without trying each format (the mapper reads dozens of columns).
DATE_START = re.compile(r"\d\d\d\d[-/]")  # \d as strptime's: any Unicode digit


def is_date(text: str) -> bool:
    """Whether one of the default date formats reads `text` (its first 19 characters) as a date."""
    head = text[:19]
    if not DATE_START.match(head):
        return False
    for fmt in DEFAULT_DATE_FORMATS:
        try:
            datetime.strptime(head, fmt.replace("%.f", ""))
            return True
        except ValueError:
            continue
    return False


def proposed_columns(sample: pl.DataFrame, table: str) -> dict[str, str | None]:
    """For each canonical column of `table`, the source column that most likely holds it (or None):
    by name first (canonical names and aliases, then a shared word), then by value pattern."""
    spec = TABLES[table]
    by_norm = {normalise_name(h): h for h in sample.columns if not h.startswith("_")}
    known = identity_section(table).columns
    chosen: dict[str, str | None] = {}
    taken: set[str] = set()
    for norm, canonical in known.items():
        if norm in by_norm and canonical not in chosen and by_norm[norm] not in taken:
            chosen[canonical] = by_norm[norm]
            taken.add(by_norm[norm])
    kinds = {h: value_kinds(sample.get_column(h)) for h in by_norm.values()}
    for col in spec.columns:
        if col.name in chosen:
            continue
        words = set(col.name.split("_")) - {"at"}
        candidates = [h for n, h in by_norm.items() if h not in taken and words <= set(n.split("_"))]
        if col.kind == Kind.TIMESTAMP:
            candidates = [h for h in candidates if kinds[h]["date"] >= 0.8] or [
                h for h in by_norm.values() if h not in taken and kinds[h]["date"] >= 0.8
                and any(w in normalise_name(h) for w in ("date", "time", "created", "at"))]
        elif col.kind == Kind.BOOLEAN:
            candidates = [h for h in candidates if is_flag(sample.get_column(h))]
        elif col.kind in (Kind.NUMBER, Kind.INTEGER):
            candidates = [h for h in candidates if kinds[h]["number"] >= 0.8]
        elif col.name in spec.key and col.name.endswith("_id"):
            unique_ids = [h for n, h in by_norm.items() if h not in taken and (n == "id" or n.endswith("_id"))
                          and sample.get_column(h).drop_nulls().n_unique() == sample.get_column(h).drop_nulls().len()]
            candidates = candidates or unique_ids
        elif col.name == "lifecycle_stage":
            candidates = [h for h in candidates if kinds[h]["date"] < 0.8] or [
                h for n, h in by_norm.items() if h not in taken and "stage" in n.split("_")
                and kinds[h]["date"] < 0.8] or [
                h for n, h in by_norm.items() if h not in taken and OUTCOME_WORDS & set(n.split("_"))
                and is_flag(sample.get_column(h))]
        elif col.name == "email":
            candidates = [h for h in candidates if kinds[h]["email"] >= 0.5] or [
                h for h in by_norm.values() if h not in taken and kinds[h]["email"] >= 0.8]
        else:
            candidates = [h for h in candidates if kinds[h]["date"] < 0.8]
        chosen[col.name] = candidates[0] if candidates else None
        if candidates:
            taken.add(candidates[0])
    return {c.name: chosen.get(c.name) for c in spec.columns}


def is_flag(values: pl.Series) -> bool:
    """Whether a column's non-empty values are all yes/no-like (1/0, true/false, yes/no), both or one."""
    distinct = {str(v).strip().lower() for v in values.drop_nulls().to_list()} - {""}
    return bool(distinct) and distinct <= set(TRUE_VALUES + FALSE_VALUES)


def fillable_gaps(sample: pl.DataFrame, table: str, columns: dict[str, str | None]) -> dict[str, str]:
    """The columns analyses need (stage or outcome, dates, owner) that `columns` leaves empty while a source
    column not chosen yet could fill them: canonical column -> that source column. Empty: nothing half-mapped."""
    needed = [c for c in ANALYSIS_COLUMNS.get(table, ())
              if not columns.get(c) and not (c in SUPPLIED_BY and columns.get(SUPPLIED_BY[c]))]
    if not needed:
        return {}
    chosen = {s for s in columns.values() if s}
    spare = sample.select([h for h in sample.columns if h not in chosen and not h.startswith("_")])
    if not spare.columns:
        return {}
    proposal = proposed_columns(spare, table)
    return {c: proposal[c] for c in needed if proposal.get(c)}


def completed_columns(sample: pl.DataFrame, table: str, columns: dict[str, str]) -> dict[str, str | None]:
    """A recognised file's columns with the gaps its spare columns could fill proposed: every canonical
    column of `table` -> a source column or None."""
    filled = {c.name: columns.get(c.name) for c in TABLES[table].columns}
    return filled | fillable_gaps(sample, table, filled)


def proposed_stage_values(values: list[str], settings: Settings) -> dict[str, str | None]:
    """Each distinct value of the column chosen as lifecycle stage -> a stage of the settings' ladder: the
    settings' own reading (names, `lifecycle_values`), then 1/true/yes -> customer, 0/false/no -> lead
    (the ladder's first stage when it has no "lead"); None when there is no obvious stage."""
    ladder = settings.ladders.lifecycle
    customer = "customer" if "customer" in ladder else ladder[-1]
    lead = "lead" if "lead" in ladder else ladder[0]
    proposals: dict[str, str | None] = {}
    for value in values:
        key = value.strip().lower()
        proposals[value] = (settings.lifecycle_stage(value) or (customer if key in TRUE_VALUES else None)
                            or (lead if key in FALSE_VALUES else None))
    return proposals


def distinct_values(sample: pl.DataFrame, column: str, limit: int = 30) -> list[str]:
    """The distinct non-empty values of a sample column, most frequent first (at most `limit`)."""
    values = sample.get_column(column).cast(pl.String).str.strip_chars()
    counts = values.filter(values.is_not_null() & (values != "")).value_counts(sort=True)
    return counts.get_column(column).head(limit).to_list()


def stage_counts(frame: pl.DataFrame) -> pl.DataFrame:
    """lifecycle stage, leads: how many rows of a prepared leads file land in each stage (empty: "(none)"),
    most first."""
    stages = frame.get_column("lifecycle_stage").cast(pl.String).fill_null("(none)")
    counts = stages.value_counts(sort=True, name="leads")
    return counts.rename({"lifecycle_stage": "lifecycle stage"})


def proposed_table(sample: pl.DataFrame) -> str:
    """The table whose required columns the proposal fills best (ties: the most columns filled)."""
    def score(table: str) -> tuple[int, int]:
        proposal = proposed_columns(sample, table)
        required = sum(proposal[r] is not None for r in TABLES[table].required) / len(TABLES[table].required)
        return (round(required * 100), sum(v is not None for v in proposal.values()))

    return max(TABLES, key=score)


def missing_for_analyses(table: str, columns: dict[str, str | None]) -> list[str]:
    """What the mapping still lacks, said as what it costs: required columns first, then per analysis."""
    spec = TABLES[table]
    lacking = [f"{r} is required for {table}" for r in spec.required if not columns.get(r) and r != "activity_id"]
    lacking += [f"no {column}: no {what}" for column, what in NEEDS.get(table, ()) if not columns.get(column)]
    return lacking


# Columns that name or identify a row: never a segment in the preview (as the lead model leaves them out).
NOT_SEGMENT_COLUMNS = {"lead_id", "deal_id", "account_id", "activity_id", "email", "name", "first_name", "last_name",
                       "phone", "company", "title", "domain", "url"}
SEGMENT_MAX_VALUES = 200  # more distinct values than this: an id or free text, not a segment
PREVIEW_COLUMNS = ("analysis", "after this mapping", "still missing")


def analysis_preview(frame: pl.DataFrame, table: str, *, derived: dict[str, pl.DataFrame],
                     settings: Settings) -> pl.DataFrame:
    """analysis, after this mapping, still missing: what each analysis will show from a prepared file (its
    canonical `frame` and the rows `derived` from it, before anything is written), in plain words."""
    n = frame.height
    rows: list[tuple[str, str, str]]
    if table == "leads":
        rows = lead_preview(frame, stage_entries=derived.get("stage_events"), settings=settings)
    elif table == "deals":
        rows = deal_preview(frame)
    else:
        rows = []
    dates = dated_span(frame, table)
    if table != "leads" and any(c.kind == Kind.TIMESTAMP for c in TABLES[table].columns):
        rows.append(("Dates", dates or f"none of the {n:,} rows has a date",
                     "" if dates else "trends and time-based views leave these rows out"))
    segments = segment_columns(frame, table)
    listed = ", ".join(segments[:8]) + (f" and {len(segments) - 8} more" if len(segments) > 8 else "")
    rows.append(("Segments", f"by {listed}" if segments else "no column to segment by",
                 "" if segments else "a source, owner, country, industry or any text column with repeated values"))
    return pl.DataFrame(rows, schema=list(PREVIEW_COLUMNS), orient="row")


def lead_preview(frame: pl.DataFrame, *, stage_entries: pl.DataFrame | None, settings: Settings
                 ) -> list[tuple[str, str, str]]:
    """The preview rows of a leads file: each ladder, conversion, aging, trends, owners, duplicates, fit."""
    n = frame.height
    ladder = {*settings.ladders.lifecycle, *settings.ladders.lifecycle_side}
    entered = [] if stage_entries is None else (
        stage_entries.filter(pl.col("ladder") == "lifecycle").get_column("lead_id").unique().to_list())
    staged = frame.filter(pl.col("lifecycle_stage").is_in(list(ladder)) | pl.col("lead_id").is_in(entered)).height
    dated = frame.get_column("created_at").drop_nulls().len()
    dated_entries = 0 if stage_entries is None else stage_entries.get_column("entered_at").drop_nulls().len()
    span = dated_span(frame, "leads", also=None if stage_entries is None else stage_entries.get_column("entered_at"))
    needs_dates = "dates: map created_at (or stage date columns)"
    rows = [("Distribution, lifecycle ladder", f"{staged:,} of {n:,} leads get a stage"
             + ("" if staged == n else f"; {n - staged:,} show as no stage yet"),
             "" if staged else "a stage or outcome column (lifecycle_stage)")]
    rows.append(("Distribution, funnel ladder", (f"{dated:,} of {n:,} leads are dated and enter it at creation; "
                                                  "later stages come from activities and deals"),
                 "" if dated else needs_dates))
    with_dates = f"{dated:,} dated leads" + (f" and {dated_entries:,} dated stage entries" if dated_entries else "")
    rows.append(("Conversion", f"{with_dates}, {span}" if span else "nothing: no dates", "" if span else needs_dates))
    rows.append(("Aging", f"time in stage for the {with_dates}" if span else "nothing: no dates",
                 "" if span else needs_dates))
    rows.append(("Trends by month", span or "nothing: no dates", "" if span else needs_dates))
    owners = frame.get_column("owner").drop_nulls().n_unique()
    rows.append(("Routing, owners and handoff", f"{owners:,} owners" if owners else "no owners", "" if owners else "owner"))
    emails = frame.get_column("email").drop_nulls().len()
    rows.append(("Duplicate checks", f"{emails:,} leads with an e-mail" if emails else "by lead id only",
                 "" if emails else "email"))
    firmographics = frame.select(pl.any_horizontal(pl.col("industry", "employees", "account_id").is_not_null())).sum()
    fit = int(firmographics.item())
    rows.append(("Fit (ICP)", f"{fit:,} leads with an industry, size or account" if fit else "not computed",
                 "" if fit else "industry, employees or account_id (or an accounts file)"))
    return rows


def deal_preview(frame: pl.DataFrame) -> list[tuple[str, str, str]]:
    """The preview rows of a deals file: win rate, time to close, deals per lead."""
    n = frame.height
    won = frame.get_column("won").drop_nulls().len()
    outcome = won or frame.get_column("stage").drop_nulls().len()
    closed = frame.get_column("closed_at").drop_nulls().len()
    leads = frame.get_column("lead_id").drop_nulls().len()
    return [("Win rate", f"{outcome:,} of {n:,} deals with an outcome or stage" if outcome else "nothing",
             "" if outcome else "won (or a stage holding won/lost)"),
            ("Time to close", f"{closed:,} deals with a close date" if closed else "nothing", "" if closed else "closed_at"),
            ("Deals per lead and segment", f"{leads:,} deals with a lead" if leads else "by account only",
             "" if leads else "lead_id")]


def dated_span(frame: pl.DataFrame, table: str, *, also: pl.Series | None = None) -> str:
    """'from <first day> to <last day>' over a prepared file's date columns (and the dates `also` given:
    the stage entries derived from it), or empty when there is no date."""
    dates = [frame.get_column(c.name) for c in TABLES[table].columns
             if c.kind == Kind.TIMESTAMP and c.name in frame.columns]
    series = [d.cast(pl.Datetime("us")).rename("at") for d in [*dates, *([also] if also is not None else [])]]
    every = pl.concat(series).drop_nulls() if series else pl.Series("at", [], dtype=pl.Datetime("us"))
    if every.len() == 0:
        return ""
    return f"from {every.min():%d %b %Y} to {every.max():%d %b %Y}"


def segment_columns(frame: pl.DataFrame, table: str) -> list[str]:
    """The columns a prepared file gives to segment by: canonical text columns and kept attributes with at
    least one value, at most SEGMENT_MAX_VALUES distinct ones and some value repeated (names and ids left out)."""
    def segment_like(values: pl.Series) -> bool:
        distinct = values.n_unique()
        return 1 <= distinct <= SEGMENT_MAX_VALUES and (distinct < values.len() or values.len() == 1)

    usable = [c.name.replace("_", " ") for c in TABLES[table].columns if c.kind == Kind.TEXT and c.name not in NOT_SEGMENT_COLUMNS
              and c.name in frame.columns and segment_like(frame.get_column(c.name).drop_nulls())]
    if "attributes" in frame.columns:
        pairs = frame.select(pl.col("attributes").explode().struct.unnest()).drop_nulls()
        pairs = pairs.filter(pl.col("value").str.strip_chars() != "")
        counts = pairs.group_by("key", maintain_order=True).agg(distinct=pl.col("value").n_unique(),
                                                               rows=pl.len())
        usable.extend(counts.filter(pl.col("distinct").is_between(1, SEGMENT_MAX_VALUES)
                                    & ((pl.col("distinct") < pl.col("rows")) | (pl.col("rows") == 1)))
                      .get_column("key").to_list())
    return usable


def recognising_mapping(name: str, saved_texts: tuple[tuple[str, str], ...] = ()) -> Mapping | None:
    """The mapping a file was recognised by, from its name: a saved mapping first, then a shipped preset."""
    for label, text in saved_texts:
        mapping = mapping_from_text(text, source=label)
        if mapping.name == name:
            return mapping
    return next((preset for preset in all_presets() if preset.name == name), None)


def corrected_mapping_text(name: str, *, base: Mapping, headers: list[str], table: str,
                           columns: dict[str, str | None], values: dict[str, dict[str, str]] | None = None) -> str:
    """The mapping of a recognised file with the user's corrections: the columns and stage values as chosen,
    and everything else the recognising mapping's section says (stage date columns, constants, value maps,
    URL rules, date formats, decimal mark, null values, row filters, person keys) kept as it was."""
    section = base.section_for(headers, table=table)
    raw = tomllib.loads(base.text) if base.text and section is not None else {}
    index = base.files.index(section) if section is not None and raw else None
    kept = dict(raw["file"][index]) if index is not None else {}
    mapped = {canonical for canonical, source in columns.items() if source}
    kept_values = {c: m for c, m in dict(kept.get("values", {})).items() if c in mapped}
    for canonical, value_map in (values or {}).items():
        if canonical in mapped and value_map:
            kept_values[canonical] = {**kept_values.get(canonical, {}), **value_map}
    constants = {c: v for c, v in dict(kept.get("constants", {})).items() if c not in mapped}
    extras = {k: v for k, v in kept.items() if k not in ("table", "match", "columns", "values", "constants")}
    if constants:
        extras["constants"] = constants
    top = {k: raw[k] for k in ("date_formats", "decimal") if k in raw and k not in extras}
    return mapping_text(name, table=table, columns=columns, values=kept_values, extras=extras, top=top)


def toml_value(value: Any) -> str:
    """A TOML value for the shapes mapping files hold: strings, numbers, booleans, lists and inline tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_string(str(k))} = {toml_value(v)}" for k, v in value.items()) + "}"
    return toml_string(str(value))


def mapping_text(name: str, *, table: str, columns: dict[str, str | None],
                 values: dict[str, dict[str, str]] | None = None, extras: dict[str, Any] | None = None,
                 top: dict[str, Any] | None = None) -> str:
    """A mapping TOML for these choices; the mapped source columns are what recognises the next export.
    `values` are value maps per canonical column (source value -> canonical value), written as
    `[file.values.<column>]` so a saved mapping re-applies them; `extras` are further keys of the file
    section (stage_dates, constants, …) and `top` top-level settings (date_formats, decimal), written as given."""
    mapped = {canonical: source for canonical, source in columns.items() if source}
    match = sorted({normalise_name(s) for s in mapped.values()})
    lines = [f"name = {toml_string(name)}"] + [f"{k} = {toml_value(v)}" for k, v in (top or {}).items()]
    lines += ["", "[[file]]", f"table = {toml_string(table)}",
              "match = [" + ", ".join(toml_string(m) for m in match) + "]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in (extras or {}).items()]
    lines += ["", "[file.columns]"]
    lines += [f"{toml_string(source)} = {toml_string(canonical)}" for canonical, source in mapped.items()]
    for canonical, value_map in (values or {}).items():
        if mapped.get(canonical) and value_map:
            lines += ["", f"[file.values.{canonical}]"]
            lines += [f"{toml_string(raw)} = {toml_string(value)}" for raw, value in value_map.items()]
    return "\n".join(lines) + "\n"


def toml_string(text: str) -> str:
    """A TOML basic string (quotes, backslashes and control characters escaped)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(c if ord(c) >= 32 else f"\\u{ord(c):04x}" for c in escaped)
    return f'"{escaped}"'


def saved_mappings(con: duckdb.DuckDBPyConnection) -> tuple[Mapping, ...]:
    """The mappings users saved from the guided mapper, newest first."""
    rows = frame(con, f"SELECT name, toml FROM {SAVED_MAPPINGS} ORDER BY saved_at DESC")
    return tuple(mapping_from_text(t, source=n) for n, t in rows.iter_rows())


def save_mapping(con: duckdb.DuckDBPyConnection, *, name: str, text: str, now: datetime | None = None) -> None:
    """Stores (or replaces) a named mapping after validating it."""
    mapping_from_text(text, source=name)
    exists = scalar(con, f"SELECT count(*) FROM {SAVED_MAPPINGS} WHERE name = $n", {"n": name})
    if exists:
        con.execute(f"DELETE FROM {SAVED_MAPPINGS} WHERE name = $n", {"n": name})
    con.execute(f"INSERT INTO {SAVED_MAPPINGS} VALUES ($n, $at, $t)", {"n": name, "at": now or datetime.now(),
                                                                        "t": text})


__all__ = ["Settings", "analysis_preview", "completed_columns", "corrected_mapping_text", "distinct_values",
           "fillable_gaps", "is_date", "is_flag", "mapping_text",
           "missing_for_analyses", "proposed_columns", "proposed_stage_values", "proposed_table", "recognising_mapping",
           "save_mapping", "saved_mappings", "stage_counts", "value_kinds"]
