"""Column mappings: how one tool's export becomes canonical rows.

A mapping is a small TOML file with one `[[file]]` section per export shape:

    name = "Olist marketing funnel"
    date_formats = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d"]

    [[file]]
    table = "leads"                                  # which canonical table the file feeds
    match = ["mql_id", "first_contact_date"]         # headers that recognise the file
    [file.columns]                                   # source column -> canonical column
    mql_id = "lead_id"
    first_contact_date = "created_at"
    origin = "source"
    [file.constants]                                 # canonical column -> a fixed value
    lifecycle_stage = "mql"
    [file.values.source]                             # value maps for one canonical column
    paid_search = "Paid search"
    [[file.stage_dates]]                             # date columns that become stage entries
    column = "first_contact_date"
    stage = "mql"
    optional = true                                  # skip it when the file lacks the column

A few more keys, all optional:

    [[file]]
    table = "accounts"
    null_values = ["Select", "N/A"]                  # cell values meaning "empty", in every column
    [file.columns]
    account = ["account_id", "name"]                 # one source column feeding several columns
    [file.where]                                     # keep only rows whose column holds one of these
    "Field / Event" = ["Lead Status"]                # (compared trimmed, case-insensitively; "" = empty)
    [file.where_not]                                 # leave out rows whose column holds one of these
    event = ["$identify", "$set"]
    [file.person_keys]                               # columns naming the person another way (kept as
    Email = "email"                                  # identity rows: email, device, user = the id the
    "$device_id" = "device"                          # tool identified the person as, alias = another id
    "$user_id" = "user"                              # of the same person, e.g. a CRM id)
    [[file.url_rules]]                               # activities: a URL fragment retypes a touch
    contains = "/pricing"
    activity_type = "pricing_page_view"
    when = ["page_view"]                             # (default) only touches already of these types

A value map may map a value to "" (empty). Row filters naming a column the file lacks are skipped
with a note; they run before anything else, so left-out rows are never checked or imported.

Headers are compared normalised (trimmed, lower-case, words joined by `_`), so "Contact ID",
"contact id" and "CONTACT_ID" are the same column. Vendor presets are mapping files too.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from funnel.errors import MappingError
from funnel.schema import IDENTITY_KINDS, LADDERS, LIFECYCLE, TABLES, normalise_name

DEFAULT_DATE_FORMATS: tuple[str, ...] = (  # the most common first: each format is tried on the whole column
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d",
)


@dataclass(frozen=True)
class StageDate:
    column: str  # normalised source column holding the date
    stage: str
    ladder: str = LIFECYCLE
    optional: bool = False  # a missing column is skipped instead of refused


@dataclass(frozen=True)
class UrlRule:
    contains: str  # a URL fragment, e.g. "/pricing"
    activity_type: str  # the canonical type it becomes
    when: tuple[str, ...] = ("page_view",)  # only for activities of these (mapped) types


@dataclass(frozen=True)
class FileMapping:
    table: str
    match: tuple[str, ...] = ()
    columns: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    stage_dates: tuple[StageDate, ...] = ()
    url_rules: tuple[UrlRule, ...] = ()
    date_formats: tuple[str, ...] = DEFAULT_DATE_FORMATS
    decimal: str = "."
    sheet: str | None = None
    header_row: int | None = None
    extra_columns: tuple[tuple[str, str], ...] = ()  # (normalised source, canonical) beyond `columns`
    null_values: tuple[str, ...] = ()  # lower-cased cell values read as empty
    where: dict[str, tuple[str, ...]] = field(default_factory=dict)  # normalised source -> kept values
    where_not: dict[str, tuple[str, ...]] = field(default_factory=dict)  # normalised source -> left-out values
    person_keys: dict[str, str] = field(default_factory=dict)  # normalised source -> identity kind

    def matches(self, headers: set[str]) -> bool:
        """True when every `match` header is present (normalised)."""
        return bool(self.match) and all(h in headers for h in self.match)


@dataclass(frozen=True)
class Mapping:
    name: str
    files: tuple[FileMapping, ...]
    description: str = ""
    source: str = ""
    text: str = ""

    def section_for(self, headers: list[str], *, table: str | None = None) -> FileMapping | None:
        """The section that recognises these headers (the only section when there is one)."""
        normalised = {normalise_name(h) for h in headers}
        candidates = [f for f in self.files if table is None or f.table == table]
        matching = [f for f in candidates if f.matches(normalised)]
        if matching:
            return max(matching, key=lambda f: len(f.match))
        if len(candidates) == 1 and not candidates[0].match:
            return candidates[0]
        return None


def load_mapping(path: Path | str) -> Mapping:
    """The mapping in a TOML file, validated."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MappingError("the mapping file does not exist", file=str(path),
                           hint="Pass the path of a mapping .toml") from None
    return mapping_from_text(text, source=path.name)


def mapping_from_text(text: str, *, source: str = "mapping") -> Mapping:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"the mapping is not valid TOML: {exc}", file=source,
                           hint="Check quotes, brackets and '=' signs") from None
    return mapping_from(raw, source=source, text=text)


def mapping_from(raw: dict[str, Any], *, source: str, text: str = "") -> Mapping:
    def fail(where: str, problem: str, value: Any = None) -> MappingError:
        return MappingError(f"{where} {problem}", file=source, value=None if value is None else repr(value),
                            hint="Fix the mapping file")

    known_top = {"name", "description", "date_formats", "decimal", "file"}
    for key in raw:
        if key not in known_top:
            raise fail(key, "is not a mapping setting (expected name, description, date_formats, decimal, file)")
    default_formats = tuple(raw.get("date_formats", ())) or DEFAULT_DATE_FORMATS
    default_decimal = raw.get("decimal", ".")
    sections = raw.get("file")
    if not isinstance(sections, list) or not sections:
        raise fail("file", "must hold at least one [[file]] section")
    files = []
    for i, sec in enumerate(sections, start=1):
        where = f"file[{i}]"
        allowed = {"table", "match", "columns", "constants", "values", "stage_dates", "url_rules",
                   "date_formats", "decimal", "sheet", "header_row", "null_values", "where", "where_not",
                   "person_keys"}
        for key in sec:
            if key not in allowed:
                raise fail(f"{where}.{key}", "is not a known key", key)
        table_name = sec.get("table")
        if table_name not in TABLES:
            raise fail(f"{where}.table", f"must be one of {', '.join(TABLES)}", table_name)
        table = TABLES[table_name]
        canonical = set(table.column_names)
        columns = {}
        extra_columns = []
        for src, dst in dict(sec.get("columns", {})).items():
            targets = list(dst) if isinstance(dst, list) else [dst]
            if not targets:
                raise fail(f"{where}.columns.{src}", "maps to no column")
            for target in targets:
                if target not in canonical:
                    raise fail(f"{where}.columns.{src}", f"maps to {target!r}, which is not a column of {table_name}",
                               target)
            columns[normalise_name(src)] = targets[0]
            extra_columns.extend((normalise_name(src), t) for t in targets[1:])
        constants = {}
        for col, value in dict(sec.get("constants", {})).items():
            if col not in canonical:
                raise fail(f"{where}.constants.{col}", f"is not a column of {table_name}")
            constants[col] = str(value)
        values = {}
        for col, table_map in dict(sec.get("values", {})).items():
            if col not in canonical:
                raise fail(f"{where}.values.{col}", f"is not a column of {table_name}")
            values[col] = {str(k).strip().lower(): str(v) for k, v in dict(table_map).items()}
        stage_dates = []
        for j, sd in enumerate(sec.get("stage_dates", []), start=1):
            ladder = sd.get("ladder", LIFECYCLE)
            if ladder not in LADDERS:
                raise fail(f"{where}.stage_dates[{j}].ladder", f"must be one of {', '.join(LADDERS)}", ladder)
            if not sd.get("column") or not sd.get("stage"):
                raise fail(f"{where}.stage_dates[{j}]", "needs a column and a stage")
            stage_dates.append(StageDate(column=normalise_name(sd["column"]), stage=str(sd["stage"]), ladder=ladder,
                                         optional=bool(sd.get("optional", False))))
        url_rules = []
        for j, rule in enumerate(sec.get("url_rules", []), start=1):
            if not rule.get("contains") or not rule.get("activity_type"):
                raise fail(f"{where}.url_rules[{j}]", "needs contains and activity_type")
            url_rules.append(UrlRule(contains=str(rule["contains"]), activity_type=str(rule["activity_type"]),
                                     when=tuple(rule.get("when", ("page_view",)))))
        decimal = sec.get("decimal", default_decimal)
        if decimal not in (".", ","):
            raise fail(f"{where}.decimal", "must be '.' or ','", decimal)
        null_values = sec.get("null_values", [])
        if not isinstance(null_values, list):
            raise fail(f"{where}.null_values", "must be a list of values", null_values)
        row_filters = {}
        for key in ("where", "where_not"):
            rules = sec.get(key, {})
            if not isinstance(rules, dict):
                raise fail(f"{where}.{key}", "must be a table of column = [values]", rules)
            parsed_rules = {}
            for src, kept in rules.items():
                kept = kept if isinstance(kept, list) else [kept]
                parsed_rules[normalise_name(src)] = tuple(str(v).strip().lower() for v in kept)
            row_filters[key] = parsed_rules
        person_keys = {}
        for src, kind in dict(sec.get("person_keys", {})).items():
            if kind not in IDENTITY_KINDS or kind == "anonymous":
                raise fail(f"{where}.person_keys.{src}", "must be one of email, device, person, user, alias, "
                           "anonymous_id, name", kind)
            person_keys[normalise_name(src)] = kind
        header_row = sec.get("header_row")
        if header_row is not None and (not isinstance(header_row, int) or header_row < 1):
            raise fail(f"{where}.header_row", "must be a spreadsheet row number (1 = first row)", header_row)
        files.append(FileMapping(
            table=table_name, match=tuple(normalise_name(m) for m in sec.get("match", ())),
            columns=columns, constants=constants, values=values, stage_dates=tuple(stage_dates),
            url_rules=tuple(url_rules), date_formats=tuple(sec.get("date_formats", ())) or default_formats,
            decimal=decimal, sheet=sec.get("sheet"),
            header_row=None if header_row is None else header_row - 1,
            extra_columns=tuple(extra_columns), null_values=tuple(str(v).strip().lower() for v in null_values),
            where=row_filters["where"], where_not=row_filters["where_not"], person_keys=person_keys,
        ))
    return Mapping(name=str(raw.get("name", source)), description=str(raw.get("description", "")),
                   files=tuple(files), source=source, text=text)


def identity_section(table: str) -> FileMapping:
    """The mapping of a file already in canonical form: names and known aliases map to themselves."""
    spec = TABLES[table]
    columns = {}
    for col in spec.columns:
        columns[col.name] = col.name
        for alias in col.aliases:
            columns.setdefault(normalise_name(alias), col.name)
    person_keys = {} if "email" in columns else {"email": "email", "e_mail": "email", "email_address": "email"}
    return FileMapping(table=table, columns=columns, person_keys=person_keys)


def recognised_table(headers: list[str]) -> str | None:
    """The canonical table whose columns these headers are (all required present, most matched)."""
    normalised = {normalise_name(h) for h in headers}
    best: tuple[int, str] | None = None
    for name, spec in TABLES.items():
        section = identity_section(name)
        mapped = {section.columns[h] for h in normalised if h in section.columns}
        if not all(r in mapped for r in spec.required):
            continue
        score = len(mapped)
        if best is None or score > best[0]:
            best = (score, name)
    return best[1] if best else None
