"""Imports: parse, map to canonical rows and validate in the limited worker, then write in one transaction.

Parsing, mapping and validation all run in a child process with a memory limit and a timeout
(`funnel.ingest.worker.run_limited`, this module as the child's entry point), so a hostile file can
cost only the child. Everything that can fail is checked before the database is touched. The write itself runs in a
single transaction that either commits the whole file (and its audit row) or rolls back and
leaves the database exactly as it was.
"""

from __future__ import annotations

import hashlib
import re
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

from funnel.access import local_user
from funnel.config import Settings, default_settings
from funnel.errors import FunnelError, MappingError, StoreError, ValidationError, printable, shorten
from funnel.filters import FIRST_DAY, LAST_DAY
from funnel.ingest.mapping import FileMapping, Mapping, StageDate, UrlRule, identity_section, recognised_table
from funnel.ingest.presets import all_presets, recognised_preset
from funnel.ingest.readers import ParsedFile, read_export
from funnel.ingest.worker import BatchWorker, run_limited, served
from funnel.schema import (
    ACTIVITIES,
    ACTIVITY_ID,
    ACTIVITY_TYPE,
    ATTRIBUTES,
    CAMPAIGN,
    CHANNEL,
    CREATED_AT,
    DEALS,
    ENTERED_AT,
    FIRST_NAME,
    HISTORY_SUFFIX,
    IDENTITY_LINKS,
    IMPORT_ID,
    IMPORTS,
    KEY_KIND,
    KEY_VALUE,
    LADDER,
    LAST_NAME,
    LEAD_ID,
    LEADS,
    LIFECYCLE,
    LIFECYCLE_STAGE,
    NAME,
    OCCURRED_AT,
    REASON,
    SEEN_AT,
    SOURCE_ROW,
    SOURCE_TYPE,
    STAGE,
    STAGE_EVENTS,
    TABLES,
    TOOL_ID,
    URL,
    WON,
    Kind,
    Table,
    normalise_name,
)
from funnel.store.db import TABLES_WITH_ATTRIBUTES, arrow_table, first_row, quote_ident, raw_tables, scalar
from funnel.store.queries import sql_text

MAX_REPORTED = 50
STORED_TABLES: dict[str, Table] = {**TABLES, IDENTITY_LINKS.name: IDENTITY_LINKS}
PERSON_TABLES = (ACTIVITIES.name, STAGE_EVENTS.name, DEALS.name)


@dataclass
class PreparedImport:
    """A file mapped and validated, ready to write."""

    file_name: str
    sha256: str
    format: str
    table: str
    frame: pl.DataFrame  # canonical columns, `attributes` as a list of {key, value}, `_source_row`
    derived: dict[str, pl.DataFrame] = field(default_factory=dict)
    mapping_name: str = ""
    warnings: list[str] = field(default_factory=list)
    source_columns: dict[str, str] = field(default_factory=dict)  # canonical column -> source header
    unmapped: list[str] = field(default_factory=list)
    mapping: Mapping | None = None  # the mapping it was prepared with (None: the table's canonical names)


@dataclass(frozen=True)
class ImportResult:
    file_name: str
    table: str
    status: str  # "imported" or "unchanged"
    import_id: int | None
    rows: int
    added: int
    updated: int
    unchanged: int
    derived: str = ""
    warnings: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line for the CLI and the Data page."""
        if self.status == "unchanged":
            return (f"{printable(self.file_name)}: identical to import #{self.import_id}; nothing changed")
        text = (f"{printable(self.file_name)} → {self.table}: {self.rows} rows ({self.added} added, {self.updated} updated, "
                f"{self.unchanged} unchanged) as import #{self.import_id}")
        return text + (f"; {self.derived}" if self.derived else "")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def prepare_import(path: Path, *, name: str | None = None, table: str | None = None,
                   mapping: Mapping | None = None, settings: Settings | None = None,
                   sheet: str | None = None, saved: tuple[Mapping, ...] = ()) -> PreparedImport:
    """The file at `path` parsed, mapped and validated in the limited worker; raises FunnelError.
    Without a mapping or table, the user's `saved` mappings are tried first, then the vendor
    presets, then the canonical column names."""
    settings = settings or default_settings()
    name = name or Path(path).name
    if table is not None and table not in TABLES:
        raise MappingError(f"there is no table {table!r}", file=name, hint=f"Use one of {', '.join(TABLES)}")
    prepared = prepared_in_worker(Path(path), name=name, table=table, mapping=mapping, settings=settings,
                                  sheet=sheet, saved=saved)
    prepared.sha256 = file_sha256(Path(path))
    return prepared


def prepared_in_worker(path: Path, *, name: str, table: str | None, mapping: Mapping | None,
                       settings: Settings, sheet: str | None, saved: tuple[Mapping, ...]) -> PreparedImport:
    """`prepared_here` run by a limited child process; its frames come back as Arrow IPC."""
    request = preparation_request(path, name=name, table=table, mapping=mapping, settings=settings, sheet=sheet,
                                  saved=saved)
    with run_limited("funnel.ingest.importer", request, name=name) as (meta, work):
        frame = pl.read_ipc(work / "frame.arrow")
        derived = {t: pl.read_ipc(work / f"derived_{i}.arrow")
                   for i, t in enumerate(meta.pop("derived"))}
    return PreparedImport(frame=frame, derived=derived, **prepared_fields(meta, mapping=mapping, saved=saved))


def preparation_request(path: Path, *, name: str, table: str | None, mapping: Mapping | None,
                        settings: Settings, sheet: str | None, saved: tuple[Mapping, ...]) -> dict:
    """What the worker needs to prepare one file."""
    return {"name": name, "args": {"path": Path(path).resolve(), "name": name, "table": table, "mapping": mapping,
                                   "settings": settings, "sheet": sheet, "saved": saved}}


def prepared_fields(meta: dict, *, mapping: Mapping | None, saved: tuple[Mapping, ...]) -> dict:
    """The worker's JSON description as PreparedImport fields: the mapping it chose looked up here (what a
    child that read an untrusted file says is never unpickled)."""
    fields = {k: v for k, v in meta.items() if k not in ("rows", "derived_rows", "mapping_choice")}
    return {**fields, "mapping": chosen_mapping(meta["mapping_choice"], given=mapping, saved=saved)}


def chosen_mapping(choice: tuple[str, int] | list, *, given: Mapping | None,
                   saved: tuple[Mapping, ...]) -> Mapping | None:
    """The mapping a worker's `mapping_choice` names, looked up among those the request offered."""
    kind, index = choice
    return {"given": given, "saved": saved[index] if kind == "saved" else None,
            "preset": all_presets()[index] if kind == "preset" else None}.get(kind)


def mapping_choice(prepared: PreparedImport, args: dict) -> tuple[str, int]:
    """Which of the request's mappings (`args`: given, saved, else a preset) prepared the file, as
    (kind, index): plain JSON the caller resolves with `chosen_mapping`."""
    if prepared.mapping is None:
        return ("none", 0)
    if prepared.mapping is args["mapping"]:
        return ("given", 0)
    if any(prepared.mapping is m for m in args["saved"]):
        return ("saved", next(i for i, m in enumerate(args["saved"]) if m is prepared.mapping))
    return ("preset", next(i for i, m in enumerate(all_presets()) if m is prepared.mapping))


def prepared_job(request: dict, work: Path) -> dict:
    """The child's side of `prepared_in_worker`: frames to IPC files (in record batches, so the writer
    can stream them), the rest as JSON."""
    prepared = prepared_here(**request["args"])
    written_ipc(prepared.frame, work / "frame.arrow")
    for i, frame in enumerate(prepared.derived.values()):
        written_ipc(frame, work / f"derived_{i}.arrow")
    return {"file_name": prepared.file_name, "sha256": prepared.sha256, "format": prepared.format,
            "table": prepared.table, "derived": list(prepared.derived), "mapping_name": prepared.mapping_name,
            "warnings": prepared.warnings, "source_columns": prepared.source_columns, "unmapped": prepared.unmapped,
            "mapping_choice": mapping_choice(prepared, request["args"]), "rows": prepared.frame.height,
            "derived_rows": [f.height for f in prepared.derived.values()]}


IPC_BATCH_ROWS = 1 << 17


def written_ipc(frame: pl.DataFrame, path: Path) -> None:
    """`frame` as an Arrow IPC file of record batches of at most IPC_BATCH_ROWS rows."""
    table = frame.to_arrow(compat_level=pl.CompatLevel.newest())
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=IPC_BATCH_ROWS):
            writer.write_batch(batch)


def prepared_here(path: Path, *, name: str, table: str | None, mapping: Mapping | None, settings: Settings,
                  sheet: str | None, saved: tuple[Mapping, ...], parse=read_export) -> PreparedImport:
    """The file parsed by `parse`, mapped and validated in this process: run it only in the worker
    (or on trusted files, as tests do)."""
    section_hint = mapping.files[0] if mapping and len(mapping.files) == 1 else None
    parsed = parse(Path(path), name=name, sheet=sheet or (section_hint.sheet if section_hint else None),
                   header_row=section_hint.header_row if section_hint else None)
    if mapping is None and table is None:
        mine = [m for m in saved if m.section_for(parsed.header) is not None and any(f.match for f in m.files)]
        recognised = recognised_preset(parsed.header)
        if mine:
            mapping = mine[0]
        elif recognised is not None:
            mapping = recognised[0]
    section = chosen_section(parsed, table=table, mapping=mapping)
    frame = pl.from_arrow(parsed.table)
    assert isinstance(frame, pl.DataFrame)
    prepared = canonical_import(frame, section, file_name=name, settings=settings)
    prepared.format = parsed.format
    prepared.mapping_name = mapping.name if mapping else ""
    prepared.mapping = mapping
    prepared.warnings = parsed.warnings + prepared.warnings
    return prepared


def chosen_section(parsed: ParsedFile, *, table: str | None, mapping: Mapping | None) -> FileMapping:
    """The mapping section for this file: from the mapping, or the canonical names of the table."""
    if mapping is not None:
        section = mapping.section_for(parsed.header, table=table)
        if section is None:
            expected = "; ".join(", ".join(f.match) for f in mapping.files if f.match)
            raise MappingError(f"no section of mapping {mapping.name!r} fits this file's columns", file=parsed.name,
                               hint=f"The mapping recognises files with the columns: {expected}")
        return section
    chosen = table or recognised_table(parsed.header)
    if chosen is None:
        shown = ", ".join(shorten(h, 40) for h in parsed.header[:8])
        shown += " …" if len(parsed.header) > 8 else ""
        raise MappingError(f"cannot tell which table the file feeds from its columns ({shown})", file=parsed.name,
                           hint="Pass --table and a --mapping, or map the columns on the Data page")
    return identity_section(chosen)


# ------------------------------------------------------------------------------------ mapping rows


def canonical_import(frame: pl.DataFrame, section: FileMapping, *, file_name: str,
                     settings: Settings) -> PreparedImport:
    """Source rows as canonical, typed rows; every bad cell reported with row, column and value."""
    spec = TABLES[section.table]
    check_unambiguous_headers([h for h in frame.columns if h != SOURCE_ROW], section, spec, file_name=file_name)
    by_norm: dict[str, str] = {}
    for header in frame.columns:
        if header != SOURCE_ROW:
            by_norm.setdefault(normalise_name(header), header)
    warnings: list[str] = []
    frame = with_null_values(frame, section.null_values)
    source_of: dict[str, str] = {}
    for norm, canonical in list(section.columns.items()) + list(section.extra_columns):
        if norm in by_norm and canonical not in source_of:
            source_of[canonical] = by_norm[norm]
    keys_present = {by_norm[n]: kind for n, kind in section.person_keys.items() if n in by_norm}
    if spec.name in PERSON_TABLES and LEAD_ID not in source_of:
        named = [src for src, kind in keys_present.items()
                 if kind in ("user", "email") or (kind == "name" and spec.name == DEALS.name)]
        if named:  # the person's e-mail or user id is the only id the export has
            source_of[LEAD_ID] = named[0]
        elif spec.name != DEALS.name:
            raise ValidationError(f"the file has no person key, which {spec.name} needs", file=file_name,
                                  column=LEAD_ID, hint="Map a column to lead_id, or name an e-mail, user id or "
                                  "device id column in the mapping's person_keys (columns: "
                                  f"{', '.join(h for h in frame.columns if h != SOURCE_ROW)[:200]})")
    tools = None
    if LEAD_ID in source_of and keys_present:
        tools = (person_ids(frame, tool_column=source_of[LEAD_ID], keys=keys_present)
                 if spec.name in PERSON_TABLES else trimmed(frame.get_column(source_of[LEAD_ID])))
    links = identity_rows(frame, tools=tools, keys=keys_present,
                          seen_column=source_of.get(OCCURRED_AT) or source_of.get(ENTERED_AT)
                          or source_of.get(CREATED_AT), formats=section.date_formats)
    if tools is not None and spec.name in PERSON_TABLES:  # rows before sign-in carry the device id
        frame = frame.with_columns(tools)
    frame = filtered_rows(frame, section, by_norm, warnings=warnings)
    for sd in section.stage_dates:
        if sd.column not in by_norm and not sd.optional:
            raise MappingError(f"the mapping's stage date column {sd.column!r} is not in the file", file=file_name,
                               hint="Check the column name in the mapping's stage_dates")
    stage_dates = tuple(sd for sd in section.stage_dates if sd.column in by_norm)
    used = set(source_of.values()) | set(keys_present) | {by_norm[sd.column] for sd in stage_dates}
    unmapped = [h for h in frame.columns if h != SOURCE_ROW and h not in used]

    missing = [c for c in spec.required if c not in source_of and c not in section.constants
               and c != ACTIVITY_ID]
    if missing:
        raise ValidationError(f"the file has no {missing[0]} column, which {spec.name} needs", file=file_name,
                              column=missing[0], hint=f"Map one of its columns to {missing[0]} (columns: "
                              f"{', '.join(h for h in frame.columns if h != SOURCE_ROW)[:200]})")

    problems: list[ValidationError] = []
    out: dict[str, pl.Series] = {}
    before_values: dict[str, pl.Series] = {}
    for col in spec.columns:
        if col.name in source_of:
            raw = frame.get_column(source_of[col.name])
        elif col.name in section.constants:
            raw = pl.Series([section.constants[col.name]] * frame.height, dtype=pl.String)
        else:
            out[col.name] = pl.Series(col.name, [], dtype=col.dtype).extend_constant(None, frame.height)
            continue
        raw = trimmed(raw)
        if col.name == ACTIVITY_TYPE:
            before_values[col.name] = raw
        if col.name in section.values:
            raw = trimmed(mapped_values(raw, section.values[col.name]))
        if col.name in spec.key or col.name.endswith("_id"):
            hidden = raw.str.contains(INVISIBLE).fill_null(False)
            if hidden.any():
                problems.append(invisible_error(frame, hidden, raw, file_name=file_name,
                                                column=source_of.get(col.name, col.name)))
                continue
        parsed = typed(raw, col.kind, formats=section.date_formats, decimal=section.decimal)
        bad = raw.is_not_null() & parsed.is_null()
        if bad.any():
            problems.append(cell_error(frame, bad, raw, file_name=file_name,
                                       column=source_of.get(col.name, col.name), kind=col.kind))
        out[col.name] = parsed.alias(col.name)
    result = pl.DataFrame(out).with_columns(frame.get_column(SOURCE_ROW))
    if problems:
        raise merged_errors(problems)

    if spec.name == ACTIVITIES.name and SOURCE_TYPE not in source_of and ACTIVITY_TYPE in before_values:
        result = result.with_columns(before_values[ACTIVITY_TYPE].alias(SOURCE_TYPE))  # the tool's own name
    result = table_rules(result, spec, settings=settings, file_name=file_name, warnings=warnings)
    if spec.name == ACTIVITIES.name and section.url_rules:
        result = url_typed(result, section.url_rules)
    check_required(result, spec, file_name=file_name, source_of=source_of)
    result = deduplicated(result, spec, file_name=file_name, source_of=source_of, warnings=warnings)

    if spec.name in TABLES_WITH_ATTRIBUTES:
        if unmapped:  # a file without extra columns has no attribute map to build (stored as NULL)
            result = result.with_columns(attribute_entries(frame, unmapped).alias(ATTRIBUTES))
    elif unmapped:
        warnings.append(f"Columns not used by {spec.name}: {', '.join(unmapped[:10])}"
                        + (" …" if len(unmapped) > 10 else ""))

    derived = {}
    if stage_dates:
        derived[STAGE_EVENTS.name] = stage_entries(frame, result, stage_dates, section.date_formats, by_norm,
                                                   settings=settings, file_name=file_name)
    if links.height:
        derived[IDENTITY_LINKS.name] = links
    return PreparedImport(file_name=file_name, sha256="", format="", table=spec.name, frame=result,
                          derived=derived, warnings=warnings, source_columns=source_of,
                          unmapped=unmapped if spec.name in TABLES_WITH_ATTRIBUTES else [])


def person_ids(frame: pl.DataFrame, *, tool_column: str, keys: dict[str, str]) -> pl.Series:
    """The tool's person id of each row, or where it is empty the row's user id, e-mail, device id or name."""
    order = ("user", "email", "device", "name")
    fallbacks = [trimmed(frame.get_column(src)) for kind in order for src, k in keys.items() if k == kind]
    ids = trimmed(frame.get_column(tool_column))
    return pl.select(pl.coalesce([ids, *fallbacks])).to_series().alias(tool_column)


def identity_rows(frame: pl.DataFrame, *, tools: pl.Series | None, keys: dict[str, str], seen_column: str | None,
                  formats: tuple[str, ...]) -> pl.DataFrame:
    """One row per tool id and person key its rows carry (e-mail, device, user, alias), plus an `anonymous`
    row for an id seen only on a device with no user or e-mail: the raw material of the identity model."""
    empty = pl.DataFrame(schema=IDENTITY_LINKS.polars_schema() | {SOURCE_ROW: pl.Int64})
    if tools is None or not keys:
        return empty
    tool = tools.alias(TOOL_ID)
    seen = (parsed_timestamps(trimmed(frame.get_column(seen_column)), formats) if seen_column
            else pl.Series([None] * frame.height, dtype=pl.Datetime("us"))).alias(SEEN_AT)
    parts = []
    values = {src: trimmed(frame.get_column(src)) for src in keys}
    for src, kind in keys.items():
        parts.append(pl.DataFrame({TOOL_ID: tool, KEY_KIND: kind, KEY_VALUE: values[src], SEEN_AT: seen,
                                   SOURCE_ROW: frame.get_column(SOURCE_ROW)}))
    devices = [values[s] for s, k in keys.items() if k == "device"]
    named = [values[s] for s, k in keys.items() if k in ("user", "email")]
    if devices:
        on_device = pl.any_horizontal([d.is_not_null() for d in devices])
        unnamed = ~pl.any_horizontal([n.is_not_null() for n in named]) if named else pl.lit(True)
        anon = pl.DataFrame({TOOL_ID: tool, SEEN_AT: seen, SOURCE_ROW: frame.get_column(SOURCE_ROW)}).filter(
            pl.select(on_device & unnamed).to_series())
        parts.append(anon.select(TOOL_ID, pl.lit("anonymous").alias(KEY_KIND), pl.lit("device").alias(KEY_VALUE),
                                 SEEN_AT, SOURCE_ROW))
    links = pl.concat(parts, how="vertical_relaxed").filter(
        pl.col(TOOL_ID).is_not_null() & pl.col(KEY_VALUE).is_not_null()
        & ((pl.col(TOOL_ID) != pl.col(KEY_VALUE)) | pl.col(KEY_KIND).is_in(["device", "person", "name"])))
    return (links.sort(SEEN_AT, nulls_last=True, maintain_order=True)
            .unique(subset=list(IDENTITY_LINKS.key), keep="first", maintain_order=True)
            .select(empty.columns).cast(empty.schema))


def trimmed(raw: pl.Series) -> pl.Series:
    """Text without surrounding white space, empty text as null (copied only when something changes)."""
    text = raw.cast(pl.String)
    if text.str.contains(r"^\s|\s$").any():
        text = text.str.strip_chars()
    empty = text == ""
    return text.set(empty.fill_null(False), None) if empty.any() else text


def with_null_values(frame: pl.DataFrame, null_values: tuple[str, ...]) -> pl.DataFrame:
    """Cells holding one of the mapping's `null_values` (trimmed, any case) made empty, in every column."""
    if not null_values:
        return frame
    listed = list(null_values)
    return frame.with_columns(
        pl.when(pl.col(h).cast(pl.String).str.strip_chars().str.to_lowercase().is_in(listed))
        .then(None).otherwise(pl.col(h)).alias(h)
        for h in frame.columns if h != SOURCE_ROW)


def filtered_rows(frame: pl.DataFrame, section: FileMapping, by_norm: dict[str, str], *,
                  warnings: list[str]) -> pl.DataFrame:
    """The rows the mapping's `where` / `where_not` keep (values compared trimmed, any case; "" = empty)."""
    keep = pl.lit(True)
    used = []
    for rules, wanted in ((section.where, True), (section.where_not, False)):
        for norm, values in rules.items():
            if norm not in by_norm:
                warnings.append(f"The mapping's row filter on column {norm!r} was skipped: the file has no such "
                                "column.")
                continue
            cell = pl.col(by_norm[norm]).cast(pl.String).str.strip_chars().str.to_lowercase().fill_null("")
            hit = cell.is_in(list(values))
            keep = keep & (hit if wanted else ~hit)
            used.append(by_norm[norm])
    if not used:
        return frame
    kept = frame.filter(keep)
    if kept.height < frame.height:
        warnings.append(f"{frame.height - kept.height} row(s) were left out by the mapping's row filters "
                        f"(on {', '.join(used)}).")
    return kept


def url_typed(result: pl.DataFrame, rules: tuple[UrlRule, ...]) -> pl.DataFrame:
    """Activity types refined by URL: the first rule whose fragment the URL contains (any case) wins."""
    url = pl.col(URL).str.to_lowercase()
    chain = None
    for rule in rules:
        when = [normalise_activity_type(t) for t in rule.when]
        hit = pl.col(ACTIVITY_TYPE).is_in(when) & url.str.contains(rule.contains.lower(), literal=True)
        chain = pl.when(hit) if chain is None else chain.when(hit)
        chain = chain.then(pl.lit(normalise_activity_type(rule.activity_type)))
    if chain is None:
        return result
    return result.with_columns(chain.otherwise(pl.col(ACTIVITY_TYPE)).alias(ACTIVITY_TYPE))


def normalise_activity_type(name: str) -> str:
    """An activity type as the importer stores it: lower-case, spaces and dashes as `_`."""
    return re.sub(r"[\s-]+", "_", name.strip().lower())


def mapped_values(raw: pl.Series, value_map: dict[str, str]) -> pl.Series:
    """Values replaced through a case-insensitive map; unmapped values kept."""
    keys = raw.str.to_lowercase()
    replaced = keys.replace_strict(value_map, default=None, return_dtype=pl.String)
    return replaced.fill_null(raw) if raw.null_count() < len(raw) else raw


def typed(raw: pl.Series, kind: Kind, *, formats: tuple[str, ...], decimal: str) -> pl.Series:
    """Text parsed into the column's type; a value that does not parse becomes null (and is reported)."""
    if kind == Kind.TEXT:
        return raw
    if kind == Kind.TIMESTAMP:
        return parsed_timestamps(raw, formats)
    if kind == Kind.BOOLEAN:
        return parsed_booleans(raw)
    numbers = parsed_numbers(raw, decimal=decimal)
    if kind == Kind.INTEGER:
        whole = numbers.is_not_null() & (numbers == numbers.round(0)) & (numbers.abs() < 9e15)
        return numbers.set(~whole.fill_null(False), None).cast(pl.Int64)
    return numbers


def parsed_timestamps(raw: pl.Series, formats: tuple[str, ...]) -> pl.Series:
    """Timestamps from text by the first matching format; a trailing zone (Z, +05:30) is dropped, not shifted."""
    zone = r"(?:Z|[+-]\d{2}:?\d{2})$"
    text = raw.str.replace(zone, "") if raw.str.contains(zone).any() else raw
    out = pl.Series(raw.name, [], dtype=pl.Datetime("us")).extend_constant(None, len(raw))
    for fmt in formats:
        attempt = text.str.to_datetime(format=fmt, strict=False, time_unit="us")
        out = out.fill_null(attempt)
        if out.null_count() == raw.null_count():
            break
    bad_year = out.dt.year().is_between(FIRST_DAY.year, LAST_DAY.year).not_()
    return out.set(bad_year.fill_null(False), None)


def parsed_numbers(raw: pl.Series, *, decimal: str) -> pl.Series:
    """Numbers from text: currency symbols, spaces and thousands separators understood; NaN and INF refused."""
    text = raw.str.replace_all(r"[\s\u00a0$€£¥]|(?i:usd|eur|gbp)", "")
    negative = text.str.starts_with("(") & text.str.ends_with(")")
    text = text.str.replace(r"^\((.*)\)$", "${1}")
    # a thousands separator must group by three ("1,234.5"); "1.234,56" read with decimal "." is refused
    sep, point = (".", ",") if decimal == "," else (",", ".")
    grouped = text.str.contains(rf"^[+-]?\d{{1,3}}(\{sep}\d{{3}})+(\{point}\d*)?$")
    misplaced = text.str.contains(sep, literal=True) & ~grouped
    if decimal == ",":
        text = text.str.replace_all(r"\.", "").str.replace(",", ".", literal=True)
    else:
        text = text.str.replace_all(",", "", literal=True)
    valid = text.str.contains(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$") & ~misplaced
    numbers = text.set(~valid.fill_null(False), None).cast(pl.Float64, strict=False)
    numbers = numbers.set(numbers.is_infinite().fill_null(False), None)
    return pl.select(pl.when(negative).then(-numbers).otherwise(numbers)).to_series().alias(raw.name)


TRUE_WORDS = ("true", "yes", "y", "1", "won", "closed won", "t")
FALSE_WORDS = ("false", "no", "n", "0", "lost", "closed lost", "f")


def parsed_booleans(raw: pl.Series) -> pl.Series:
    lower = raw.str.to_lowercase()
    return (pl.select(pl.when(lower.is_in(TRUE_WORDS)).then(True)
                      .when(lower.is_in(FALSE_WORDS)).then(False)
                      .otherwise(None)).to_series().alias(raw.name))


KIND_WORDS = {Kind.TIMESTAMP: "is not a date the import understands",
              Kind.NUMBER: "is not a number", Kind.INTEGER: "is not a whole number",
              Kind.BOOLEAN: "is not true/false (yes/no, won/lost)"}
KIND_HINTS = {Kind.TIMESTAMP: f"Use ISO dates (2024-03-31 or 2024-03-31 14:05:00) from {FIRST_DAY.year} to "
                              f"{LAST_DAY.year}, or list the file's format in the mapping's date_formats",
              Kind.NUMBER: "Use plain numbers (1234.56); set decimal = \",\" in the mapping for 1.234,56",
              Kind.INTEGER: "Use whole numbers", Kind.BOOLEAN: "Use true/false"}


def cell_error(frame: pl.DataFrame, bad: pl.Series, raw: pl.Series, *, file_name: str, column: str,
               kind: Kind) -> ValidationError:
    rows = frame.get_column(SOURCE_ROW).filter(bad)
    values = raw.filter(bad)
    details = [f"row {r}, column {column!r}: {v!r} {KIND_WORDS[kind]}" for r, v in
               zip(rows.head(MAX_REPORTED).to_list(), values.head(MAX_REPORTED).to_list())]
    more = f"; {len(rows) - 1} more row(s) in this column" if len(rows) > 1 else ""
    return ValidationError(f"{KIND_WORDS[kind]}{more}", file=file_name, row=int(rows[0]), column=column,
                           value=str(values[0]), hint=KIND_HINTS[kind] + "; nothing was imported", details=details)


# Characters that change how an id looks or reads without being visible: zero-width and joiners,
# bidi embeddings, overrides and isolates (RLO …), the BOM, soft hyphen, controls (Unicode Cf, Cc).
INVISIBLE = r"[\p{Cf}\p{Cc}]"
COLLISION_SUFFIX = re.compile(r" \(\d+\)$")  # how readers.unique_header numbers a repeated name


def invisible_error(frame: pl.DataFrame, bad: pl.Series, raw: pl.Series, *, file_name: str,
                    column: str) -> ValidationError:
    """Ids holding invisible or bidi characters, which would import as look-alikes of existing ids."""
    rows = frame.get_column(SOURCE_ROW).filter(bad)
    values = raw.filter(bad)
    def shown(value: str) -> str:
        return "".join(f"<U+{ord(ch):04X}>" if unicodedata.category(ch) in ("Cf", "Cc") else ch for ch in value)
    details = [f"row {r}, column {column!r}: {shown(v)!r} holds an invisible or direction-changing character"
               for r, v in zip(rows.head(MAX_REPORTED).to_list(), values.head(MAX_REPORTED).to_list())]
    more = f"; {len(rows) - 1} more row(s) in this column" if len(rows) > 1 else ""
    return ValidationError(f"the id holds an invisible or direction-changing character{more}", file=file_name,
                           row=int(rows[0]), column=column, value=shown(str(values[0])),
                           hint="Ids must be plain text (no zero-width, joiner or bidi control characters) so "
                                "that look-alike ids cannot enter; clean them in the source. Nothing was imported",
                           details=details)


def check_unambiguous_headers(headers: list[str], section: FileMapping, spec: Table, *, file_name: str) -> None:
    """Refuses a file where two columns read as the same id column once case, spaces and punctuation
    are ignored (`lead_id`, `Lead_ID`, ` LEAD_ID `): which ids to import would be a guess. (Other
    repeated columns keep the documented rule: the first is used, the others become attributes, as
    HubSpot's two "Deal Stage" columns do.)"""
    wanted = {norm for norm, canonical in [*section.columns.items(), *section.extra_columns]
              if canonical in spec.key or canonical.endswith("_id")}
    groups: dict[str, list[str]] = {}
    for header in headers:
        groups.setdefault(normalise_name(COLLISION_SUFFIX.sub("", header)), []).append(header)
    for norm, same in groups.items():
        if norm in wanted and len(same) > 1:
            listed = ", ".join(repr(h) for h in same)
            raise MappingError(f"the columns {listed} all read as {norm!r}; the import cannot tell which to use",
                               file=file_name, column=same[1],
                               hint="Rename or remove all but one of them, then import again")


def merged_errors(problems: list[ValidationError]) -> ValidationError:
    first = problems[0]
    details = [d for p in problems for d in p.details][:MAX_REPORTED]
    if len(problems) > 1:
        others = ", ".join(repr(p.column) for p in problems[1:])
        first = ValidationError(first.reason + f" (bad values also in {others})", file=first.file, row=first.row,
                                column=first.column, value=first.value, hint=first.hint, details=details)
    return first


def table_rules(result: pl.DataFrame, spec: Table, *, settings: Settings, file_name: str,
                warnings: list[str]) -> pl.DataFrame:
    """The few rules that belong to one table: names, lifecycle values, stage names, deal outcomes."""
    if spec.name == LEADS.name:
        full = pl.concat_str([pl.col(FIRST_NAME), pl.col(LAST_NAME)], separator=" ", ignore_nulls=True)
        result = result.with_columns(pl.coalesce(pl.col(NAME), pl.when(full != "").then(full)).alias(NAME))
        lifecycle = result.get_column(LIFECYCLE_STAGE)
        result = result.with_columns(
            value_lookup(lifecycle, lambda v: settings.lifecycle_stage(v) or v).alias(LIFECYCLE_STAGE))
        unmapped = result.filter(pl.col(LIFECYCLE_STAGE).is_not_null()
                                 & ~pl.col(LIFECYCLE_STAGE).is_in(settings.ladders.lifecycle
                                                                  + settings.ladders.lifecycle_side))
        if unmapped.height:
            values = unmapped.get_column(LIFECYCLE_STAGE).unique().sort().head(5).to_list()
            warnings.append(f"{unmapped.height} lead(s) have a lifecycle value that maps to no stage "
                            f"({', '.join(values)}); they are listed under hygiene. Map them in the settings' "
                            "lifecycle_values.")
    if spec.name == STAGE_EVENTS.name:
        result = result.with_columns(pl.col(LADDER).fill_null(LIFECYCLE).str.to_lowercase())
        result = result.with_columns(stage_names(result, settings).alias(STAGE))
        bad_ladder = ~result.get_column(LADDER).is_in(["lifecycle", "funnel"])
        bad_stage = result.get_column(STAGE).is_null()
        if bad_ladder.any() or bad_stage.any():
            rows = result.filter(bad_ladder | bad_stage).get_column(SOURCE_ROW).to_list()
            raise ValidationError("a stage is not on its ladder", file=file_name, row=rows[0], column=STAGE,
                                  hint="Map the CRM's stage names in the mapping's values.stage or the settings' "
                                       "lifecycle_values; nothing was imported",
                                  details=[f"row {r}" for r in rows[:MAX_REPORTED]])
    if spec.name == DEALS.name:
        stage_lower = pl.col(STAGE).str.to_lowercase()
        inferred = pl.when(stage_lower.str.contains("won")).then(True).when(
            stage_lower.str.contains("lost")).then(False)
        result = result.with_columns(pl.coalesce(pl.col(WON), inferred).alias(WON))
    if spec.name == ACTIVITIES.name:
        result = result.with_columns(pl.col(ACTIVITY_TYPE).alias(SOURCE_TYPE) if result.get_column(
            SOURCE_TYPE).null_count() == result.height else pl.col(SOURCE_TYPE))
        result = result.with_columns(pl.col(ACTIVITY_TYPE).str.to_lowercase().str.replace_all(r"[\s-]+", "_"))
    return result


def value_lookup(values: pl.Series, translate) -> pl.Series:
    """`translate` applied once per distinct value (fast on millions of rows with few distinct values)."""
    distinct = values.drop_nulls().unique().to_list()
    table = {v: translate(v) for v in distinct}
    return values.replace_strict(table, default=None, return_dtype=pl.String) if table else values


def stage_names(frame: pl.DataFrame, settings: Settings) -> pl.Series:
    """Stage values on their ladder's canonical names (null when they map to none)."""
    funnel_names = settings.ladders.funnel + settings.ladders.funnel_side

    def one(pair: str) -> str | None:
        ladder, _, raw = pair.partition("\x1f")
        if ladder == "lifecycle":
            return settings.lifecycle_stage(raw)
        name = normalise_name(raw)
        return name if name in funnel_names else None

    pairs = frame.select(pl.concat_str([pl.col(LADDER), pl.col(STAGE)], separator="\x1f")).to_series()
    return value_lookup(pairs, one).alias(STAGE)


def check_required(result: pl.DataFrame, spec: Table, *, file_name: str, source_of: dict[str, str]) -> None:
    for col in spec.required:
        empty = result.get_column(col).is_null()
        if empty.any():
            rows = result.filter(empty).get_column(SOURCE_ROW).to_list()
            more = f"; {len(rows) - 1} more row(s)" if len(rows) > 1 else ""
            raise ValidationError(f"{col} is empty{more}", file=file_name, row=rows[0],
                                  column=source_of.get(col, col),
                                  hint="Every row needs it; fix those rows or remove them, nothing was imported",
                                  details=[f"row {r}" for r in rows[:MAX_REPORTED]])


def deduplicated(result: pl.DataFrame, spec: Table, *, file_name: str, source_of: dict[str, str],
                 warnings: list[str]) -> pl.DataFrame:
    """The rows with their key checked: repeated keys fail (activities: identical touches count once)."""
    if spec.name == ACTIVITIES.name:
        content = [LEAD_ID, ACTIVITY_TYPE, OCCURRED_AT, URL, CAMPAIGN, CHANNEL, SOURCE_TYPE]
        missing_id = result.get_column(ACTIVITY_ID).is_null()
        if missing_id.any():
            derived_id = result.filter(missing_id).select(pl.concat_str(
                [pl.col(c).cast(pl.String).fill_null("") for c in content], separator="|")).to_series()
            ids = result.get_column(ACTIVITY_ID).scatter(missing_id.arg_true(), digest_strings(derived_id))
            result = result.with_columns(ids.alias(ACTIVITY_ID))
        before = result.height
        if result.get_column(ACTIVITY_ID).hash().n_unique() < before:  # hashes first: far faster on text
            result = result.unique(subset=[ACTIVITY_ID], keep="first", maintain_order=True)
        if result.height < before:
            warnings.append(f"{before - result.height} repeated activity row(s) were counted once.")
        return result
    dup = result.select(pl.struct(list(spec.key)).is_duplicated()).to_series()
    if dup.any():
        rows = result.filter(dup)
        first_key = rows.row(0, named=True)
        key_text = ", ".join(f"{k}={first_key[k]}" for k in spec.key)
        raise ValidationError(f"{rows.height} rows share a key ({key_text} appears more than once)", file=file_name,
                              row=int(rows.get_column(SOURCE_ROW)[0]), column=source_of.get(spec.key[0], spec.key[0]),
                              value=str(first_key[spec.key[0]]),
                              hint="Each row must have its own id; remove the repeats (nothing was imported)",
                              details=[f"row {r}" for r in rows.get_column(SOURCE_ROW).to_list()[:MAX_REPORTED]])
    return result


def digest_strings(values: pl.Series) -> pl.Series:
    """A stable 128-bit id per text (md5 hex): the same touch gets the same id in every export."""
    con = duckdb.connect(config={"autoload_known_extensions": False, "autoinstall_known_extensions": False})
    try:
        con.register("_texts", pl.DataFrame({"v": values}).to_arrow())
        out = arrow_table(con, "SELECT md5(v) AS id FROM _texts")
    finally:
        con.close()
    return pl.Series(out.column("id")).cast(pl.String)


def attribute_entries(frame: pl.DataFrame, unmapped: list[str]) -> pl.Series:
    """Unmapped columns kept per row as a list of {key, value} in the columns' order (empty values left out; a row
    with none gets an empty list). Built from the long form (one row per filled cell), which costs about a fifth of
    building a struct per cell and filtering each row's list (184,800 rows of 35 columns: 0.85 s against 3.95 s)."""
    dtype = pl.List(pl.Struct({"key": pl.String, "value": pl.String}))
    if not unmapped:
        return pl.Series(ATTRIBUTES, [], dtype=dtype).extend_constant(None, frame.height)
    keys = pl.DataFrame({"col": pl.Series(range(len(unmapped)), dtype=pl.UInt32), "key": unmapped})
    filled = (frame.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("row"),
                           *[pl.col(h).cast(pl.String).str.strip_chars().alias(str(i)) for i, h in enumerate(unmapped)])
              .unpivot(index="row", variable_name="col", value_name="value")
              .filter(pl.col("value").is_not_null() & (pl.col("value") != ""))
              .with_columns(pl.col("col").cast(pl.UInt32))
              .join(keys, on="col", how="left")
              .sort("row", "col")
              .group_by("row", maintain_order=True).agg(pl.struct("key", "value").alias(ATTRIBUTES)))
    rows = pl.int_range(frame.height, dtype=pl.UInt32, eager=True).alias("row").to_frame()
    return (rows.join(filled, on="row", how="left", maintain_order="left")
            .select(pl.col(ATTRIBUTES).cast(dtype).fill_null(pl.lit([], dtype=dtype))).to_series())


def stage_entries(frame: pl.DataFrame, result: pl.DataFrame, stage_dates: tuple[StageDate, ...],
                  date_formats: tuple[str, ...], by_norm: dict[str, str], *,
                  settings: Settings, file_name: str) -> pl.DataFrame:
    """Stage events from date columns ("Became a … Date"): one per non-empty date."""
    lead_col = LEAD_ID if LEAD_ID in result.columns else None
    if lead_col is None:
        raise MappingError("stage dates need a lead id column in the same file", file=file_name,
                           hint="Map the file's id column to lead_id")
    parts = []
    for sd in stage_dates:
        raw = frame.get_column(by_norm[sd.column]).cast(pl.String).str.strip_chars()
        raw = raw.set((raw == "").fill_null(False), None)
        when = parsed_timestamps(raw, date_formats)
        bad = raw.is_not_null() & when.is_null()
        if bad.any():
            raise cell_error(frame, bad, raw, file_name=file_name, column=by_norm[sd.column], kind=Kind.TIMESTAMP)
        stage = settings.lifecycle_stage(sd.stage) if sd.ladder == LIFECYCLE else sd.stage
        if stage is None:
            raise MappingError(f"stage date column {sd.column!r} names stage {sd.stage!r}, which is not on the "
                               f"{sd.ladder} ladder", file=file_name, hint="Use a stage name of the settings")
        parts.append(pl.DataFrame({
            LEAD_ID: result.get_column(LEAD_ID), LADDER: sd.ladder, STAGE: stage, ENTERED_AT: when,
            REASON: f"from column {by_norm[sd.column]}", SOURCE_ROW: result.get_column(SOURCE_ROW),
        }).filter(pl.col(ENTERED_AT).is_not_null() & pl.col(LEAD_ID).is_not_null()))
    events = pl.concat(parts) if parts else pl.DataFrame(schema=STAGE_EVENTS.polars_schema())
    return events.unique(subset=list(STAGE_EVENTS.key), keep="first", maintain_order=True)


# ------------------------------------------------------------------------------------------ writing


def write_imports(con: duckdb.DuckDBPyConnection, prepared: list[PreparedImport], *,
                  now: datetime | None = None, by: str | None = None) -> list[ImportResult]:
    """Writes each prepared file in its own transaction; a failure rolls that file back and raises."""
    return [write_import(con, p, now=now, by=by) for p in prepared]


def write_import(con: duckdb.DuckDBPyConnection, prepared: PreparedImport, *,
                 now: datetime | None = None, by: str | None = None) -> ImportResult:
    """One file written (rows upserted by key, audit row added with who imported it: `by`, else the local user)
    in a single transaction, into the raw tables (callers rebuild the identity model afterwards:
    funnel.model.identity.rebuild_identity)."""
    with raw_tables(con):
        return written_import(con, prepared, now=now, by=by)


def written_import(con: duckdb.DuckDBPyConnection, prepared: PreparedImport, *,
                   now: datetime | None = None, by: str | None = None) -> ImportResult:
    con.execute("BEGIN TRANSACTION")
    try:
        result = recorded_import(con, staged_of(prepared), now=now, by=by)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return result


@dataclass(frozen=True)
class StagedRows:
    """Rows ready to write into one table: a frame, or an Arrow IPC file read batch by batch."""

    table: str
    rows: int
    frame: pl.DataFrame | None = None
    path: Path | None = None

    def arrow(self) -> pa.Table | pa.RecordBatchReader:
        """The rows for DuckDB to scan once: a file is streamed, never read whole into memory."""
        if self.frame is not None:
            return self.frame.to_arrow(compat_level=pl.CompatLevel.newest())  # no string copy
        reader = pa.ipc.open_file(pa.OSFile(str(self.path)))
        return pa.RecordBatchReader.from_batches(
            reader.schema, (reader.get_batch(i) for i in range(reader.num_record_batches)))


@dataclass(frozen=True)
class StagedImport:
    """One validated file as the writer needs it: what to record, and its rows and derived rows."""

    file_name: str
    sha256: str
    format: str
    mapping_name: str
    warnings: tuple[str, ...]
    rows: StagedRows
    derived: tuple[StagedRows, ...] = ()


def staged_of(prepared: PreparedImport) -> StagedImport:
    return StagedImport(prepared.file_name, prepared.sha256, prepared.format, prepared.mapping_name,
                        tuple(prepared.warnings), StagedRows(prepared.table, prepared.frame.height, prepared.frame),
                        tuple(StagedRows(t, f.height, f) for t, f in prepared.derived.items()))


def recorded_import(con: duckdb.DuckDBPyConnection, staged: StagedImport, *,
                    now: datetime | None = None, by: str | None = None) -> ImportResult:
    """Inside the caller's transaction: one file's rows upserted and its audit row added (or, when the same
    file with the same mapping is already imported, nothing)."""
    table, rows = staged.rows.table, staged.rows.rows
    same = first_row(con, sql_text("import_previous", imports=IMPORTS),
                     {"sha": staged.sha256, "t": table, "m": staged.mapping_name})
    if same:
        return ImportResult(staged.file_name, table, "unchanged", same[0], rows, 0, 0, rows,
                            warnings=staged.warnings)
    import_id = scalar(con, f"SELECT coalesce(max(import_id), 0) + 1 FROM {IMPORTS}")
    added, updated, unchanged = upsert(con, TABLES[table], staged.rows, import_id)
    derived_parts = []
    for part in staged.derived:
        d_added, d_updated, _ = upsert(con, STORED_TABLES[part.table], part, import_id)
        if part.table != IDENTITY_LINKS.name:
            derived_parts.append(f"{part.table}: {d_added} added, {d_updated} updated")
    con.execute(sql_text("import_record", imports=IMPORTS),
                {"id": import_id, "file": staged.file_name, "sha": staged.sha256, "table": table,
                 "format": staged.format, "rows": rows, "added": added, "updated": updated,
                 "unchanged": unchanged, "derived": "; ".join(derived_parts), "mapping": staged.mapping_name,
                 "warnings": "\n".join(staged.warnings), "at": now or datetime.now(), "by": by or local_user()})
    return ImportResult(staged.file_name, table, "imported", import_id, rows, added, updated, unchanged,
                        "; ".join(derived_parts), staged.warnings)


def incoming_select(spec: Table, import_id: int, columns: list[str]) -> str:
    cols = [quote_ident(c.name) for c in spec.columns]
    if spec.name in TABLES_WITH_ATTRIBUTES:
        cols.append(f"map_from_entries({quote_ident(ATTRIBUTES)}) AS {quote_ident(ATTRIBUTES)}"
                    if ATTRIBUTES in columns else f"NULL AS {quote_ident(ATTRIBUTES)}")
    cols.append(f"{int(import_id)}::BIGINT AS {quote_ident(IMPORT_ID)}")
    cols.append(quote_ident(SOURCE_ROW))
    return f"SELECT {', '.join(cols)} FROM _incoming_arrow"


def upsert(con: duckdb.DuckDBPyConnection, spec: Table, rows: pl.DataFrame | StagedRows,
           import_id: int) -> tuple[int, int, int]:
    """Rows inserted or replaced by key; replaced versions kept in history. Returns added, updated, unchanged.
    DuckDB scans the rows once (streamed when they are staged in a file)."""
    staged = rows if isinstance(rows, StagedRows) else StagedRows(spec.name, rows.height, rows)
    target = quote_ident(spec.name)
    tables = {"target": spec.name, "history": spec.name + HISTORY_SUFFIX}
    total = staged.rows
    source = staged.arrow()
    con.register("_incoming_arrow", source)
    try:
        if scalar(con, f"SELECT count(*) FROM {target}") == 0:
            con.execute(f"INSERT INTO {target} {incoming_select(spec, import_id, source.schema.names)}")
            return total, 0, 0
        con.execute(f"CREATE OR REPLACE TEMP TABLE _incoming AS {incoming_select(spec, import_id, source.schema.names)}")
    finally:
        con.unregister("_incoming_arrow")
    key_match = " AND ".join(f"t.{quote_ident(k)} = i.{quote_ident(k)}" for k in spec.key)
    compared = [c.name for c in spec.columns if c.name not in spec.key]
    if spec.name in TABLES_WITH_ATTRIBUTES:
        compared.append(ATTRIBUTES)
    differs = " OR ".join(f"t.{quote_ident(c)} IS DISTINCT FROM i.{quote_ident(c)}" for c in compared) or "false"
    con.execute(sql_text("import_changed", fragments={"key_match": key_match, "differs": differs}, target=spec.name))
    matched = scalar(con, f"SELECT count(*) FROM {target} t JOIN _incoming i ON {key_match}")
    updated = scalar(con, "SELECT count(*) FROM _changed")
    if updated:
        con.execute(sql_text("import_supersede", **tables), {"import_id": int(import_id)})
        con.execute(f"DELETE FROM {target} WHERE rowid IN (SELECT target_rowid FROM _changed)")
    con.execute(sql_text("import_new_rows", fragments={"key_match": key_match}, target=spec.name))
    con.execute("DROP TABLE _incoming")
    con.execute("DROP TABLE _changed")
    return total - matched, updated, matched - updated


def remove_import(con: duckdb.DuckDBPyConnection, import_id: int, *, now: datetime | None = None,
                  by: str | None = None) -> None:
    """Takes an import back out: its rows go, and the versions it replaced come back (in the raw tables,
    recorded with who removed it: `by`, else the local user; callers rebuild the identity model afterwards)."""
    with raw_tables(con):
        removed_import(con, import_id, now=now, by=by)


def removed_import(con: duckdb.DuckDBPyConnection, import_id: int, *, now: datetime | None = None,
                   by: str | None = None) -> None:
    row = first_row(con, f"SELECT removed_at FROM {IMPORTS} WHERE import_id = $id", {"id": import_id})
    if row is None:
        raise StoreError(f"there is no import #{import_id}", hint="See the import history for the numbers")
    if row[0] is not None:
        raise StoreError(f"import #{import_id} was already removed", hint="Nothing to do")
    con.execute("BEGIN TRANSACTION")
    try:
        for spec in STORED_TABLES.values():
            target = quote_ident(spec.name)
            history = quote_ident(spec.name + HISTORY_SUFFIX)
            tables = {"target": spec.name, "history": spec.name + HISTORY_SUFFIX}
            keys = ", ".join(quote_ident(k) for k in spec.key)
            cols = ", ".join(quote_ident(c) for c in arrow_table(con, f"SELECT * FROM {target} LIMIT 0").column_names)
            con.execute(sql_text("import_removed_keys", fragments={"keys": keys}, target=spec.name), {"id": import_id})
            con.execute(f"DELETE FROM {target} WHERE {quote_ident(IMPORT_ID)} = $id", {"id": import_id})
            con.execute(sql_text("import_restore", fragments={"columns": cols, "keys": keys}, **tables), {"id": import_id})
            con.execute(f"DELETE FROM {history} WHERE _superseded_by = $id AND ({keys}) IN (SELECT ({keys}) FROM _keys)",
                        {"id": import_id})
            key_pairs = " AND ".join(f"h.{quote_ident(k)} = x.{quote_ident(k)}" for k in spec.key)
            con.execute(sql_text("import_reattach", fragments={"keys": keys, "key_pairs": key_pairs}, history=tables["history"]),
                        {"id": import_id})
            con.execute(f"DELETE FROM {history} WHERE {quote_ident(IMPORT_ID)} = $id", {"id": import_id})
            con.execute("DROP TABLE _keys")
        con.execute(f"UPDATE {IMPORTS} SET removed_at = $at, removed_by = $by WHERE import_id = $id",
                    {"id": import_id, "at": now or datetime.now(), "by": by or local_user()})
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


@dataclass(frozen=True)
class BatchFile:
    """One file of an import batch, and how to read it (as `prepare_import` takes them)."""

    path: Path
    name: str = ""
    table: str | None = None
    mapping: Mapping | None = None
    sheet: str | None = None


def import_batch(con: duckdb.DuckDBPyConnection, files: list[BatchFile], *, settings: Settings | None = None,
                 saved: tuple[Mapping, ...] = (), now: datetime | None = None, by: str | None = None,
                 progress: Callable[[str, float], None] | None = None) -> list[ImportResult]:
    """Every file parsed, mapped and validated by one limited worker and written as soon as it is valid,
    all in ONE transaction: a failure in any file leaves the database exactly as it was before the first.
    The rows travel from the worker as Arrow IPC files that DuckDB scans batch by batch, so this process
    never holds a whole file (into the raw tables: callers rebuild the lead model afterwards,
    funnel.model.build.rebuild_model)."""
    settings = settings or default_settings()
    results: list[ImportResult] = []
    with raw_tables(con), BatchWorker("funnel.ingest.importer") as worker:
        con.execute("BEGIN TRANSACTION")
        try:
            for i, item in enumerate(files):
                name = item.name or Path(item.path).name
                if progress is not None:
                    progress(f"checking and writing {printable(name)}", i / len(files))
                if item.table is not None and item.table not in TABLES:
                    raise MappingError(f"there is no table {item.table!r}", file=name,
                                       hint=f"Use one of {', '.join(TABLES)}")
                request = preparation_request(item.path, name=name, table=item.table, mapping=item.mapping,
                                              settings=settings, sheet=item.sheet, saved=saved)
                with worker.answer(request, name=name) as (meta, work):
                    results.append(recorded_import(con, staged_in(meta, work, sha256=file_sha256(Path(item.path))),
                                                   now=now, by=by))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    if progress is not None:
        progress("imported", 1.0)
    return results


def staged_in(meta: dict, work: Path, *, sha256: str) -> StagedImport:
    """The worker's answer for one file as rows to write, read from the files in `work`."""
    derived = tuple(StagedRows(t, n, path=work / f"derived_{i}.arrow")
                    for i, (t, n) in enumerate(zip(meta["derived"], meta["derived_rows"])))
    return StagedImport(meta["file_name"], sha256, meta["format"], meta["mapping_name"], tuple(meta["warnings"]),
                        StagedRows(meta["table"], meta["rows"], path=work / "frame.arrow"), derived)


def import_paths(con: duckdb.DuckDBPyConnection, paths: list[Path], *, table: str | None = None,
                 mapping: Mapping | None = None, settings: Settings | None = None) -> list[ImportResult]:
    """The files at `paths` imported as one batch (`import_batch`: one bad file imports nothing)."""
    return import_batch(con, [BatchFile(Path(p), table=table, mapping=mapping) for p in paths], settings=settings)


__all__ = ["BatchFile", "FunnelError", "ImportResult", "PreparedImport", "import_batch", "import_paths",
           "prepare_import", "remove_import", "write_import", "write_imports"]


if __name__ == "__main__":
    sys.exit(served(prepared_job))
