"""The guided mapper: a proposed mapping for an export nobody recognised (or one recognised with columns
left over that could fill what analyses need), what it still lacks, stage values mapped onto the lifecycle
ladder, and the TOML that saves it so next month's export of the same shape imports in one step."""

from __future__ import annotations

import re
from datetime import datetime

import duckdb
import polars as pl

from funnel.config import Settings
from funnel.ingest.mapping import DEFAULT_DATE_FORMATS, Mapping, identity_section, mapping_from_text
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

    def is_date(text: str) -> bool:
        for fmt in DEFAULT_DATE_FORMATS:
            try:
                datetime.strptime(text[:19], fmt.replace("%.f", ""))
                return True
            except ValueError:
                continue
        return False

    n = len(sample)
    return {"email": sum(bool(EMAIL.match(v)) for v in sample) / n,
            "date": sum(is_date(v) for v in sample) / n,
            "number": sum(bool(NUMBER.match(v)) for v in sample) / n}


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


def mapping_text(name: str, *, table: str, columns: dict[str, str | None],
                 values: dict[str, dict[str, str]] | None = None) -> str:
    """A mapping TOML for these choices; the mapped source columns are what recognises the next export.
    `values` are value maps per canonical column (source value -> canonical value), written as
    `[file.values.<column>]` so a saved mapping re-applies them."""
    mapped = {canonical: source for canonical, source in columns.items() if source}
    match = sorted({normalise_name(s) for s in mapped.values()})
    lines = [f"name = {toml_string(name)}", "", "[[file]]", f"table = {toml_string(table)}",
             "match = [" + ", ".join(toml_string(m) for m in match) + "]", "", "[file.columns]"]
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


__all__ = ["Settings", "completed_columns", "distinct_values", "fillable_gaps", "is_flag", "mapping_text",
           "missing_for_analyses", "proposed_columns", "proposed_stage_values", "proposed_table", "save_mapping",
           "saved_mappings", "stage_counts", "value_kinds"]
