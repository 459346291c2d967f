"""The one chokepoint for every file a user downloads: CSV and XLSX bytes, neutralised.

Every export path (work queues, reports, any download button) goes through `csv_bytes` or
`xlsx_bytes`; nothing else writes a user-facing file. Both apply the formula-injection rule of
notes/safety.md §4 to every text cell *and* to the column names:

    if a string's first character, after any leading whitespace, is one of
    = + - @ TAB CR LF NUL or full-width ＝ ＋ － ＠, prefix it with an apostrophe.

"Leading whitespace" is read broadly (`LEADING_IGNORED`): spaces of every kind, other control
characters and invisible format characters (zero-width space, BOM, bidi marks), because a
spreadsheet may drop them and then see the trigger. NUL is a trigger as in OWASP ASVS V1.2.10.

Documented costs:
- Legitimate text that starts with a trigger gets a visible `'` in non-Excel consumers: phone
  numbers such as `+44 20 7946 0958`, notes such as `-5% discount`. Numbers stay numbers: a
  negative amount in a numeric column is written as a number, never prefixed.
- XLSX cannot hold the control characters \\x00–\\x08, \\x0b, \\x0c, \\x0e–\\x1f (nor U+FFFE,
  U+FFFF): they are removed *before* the check, so removing them cannot expose a trigger. Cells
  longer than 32,767 characters are cut; `truncated_cells` counts them so the UI can warn.
- NaN and ±infinity become empty cells in both formats (Excel has no such numbers: XLSX would
  get error cells, and a CSV "-inf" opens as a #NAME? formula error).
- XLSX: timezone-aware datetimes become ISO text with their offset (Excel dates have no zone,
  and the time is never shifted); column names equal up to case get a `_2`, `_3` suffix (Excel
  tables need case-insensitively unique headers; xlsxwriter otherwise writes an empty sheet).
- Nested (List, Array, Struct), Binary, Object and Duration columns are refused with TypeError:
  flatten or convert them first, so nothing reaches a file un-neutralised.

Data is stored verbatim; neutralisation happens only here, on the way out.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Callable, Iterable
from datetime import date

import polars as pl

__all__ = [
    "EXCEL_CELL_LIMIT",
    "LEADING_IGNORED",
    "TRIGGERS",
    "csv_bytes",
    "download_name",
    "neutralise",
    "neutralised_frame",
    "truncated_cells",
    "xlsx_bytes",
]

TRIGGERS = frozenset("=+-@\t\r\n\x00\uff1d\uff0b\uff0d\uff20")  # last four: ＝ ＋ － ＠

# Code-point ranges skipped before looking for a trigger (inclusive).
LEADING_IGNORED: tuple[tuple[int, int], ...] = (
    (0x0000, 0x0020),  # C0 controls and space (TAB, CR, LF, NUL are triggers themselves)
    (0x007F, 0x00A0),  # DEL, C1 controls (incl. NEL), no-break space
    (0x00AD, 0x00AD),  # soft hyphen
    (0x061C, 0x061C),  # Arabic letter mark
    (0x1680, 0x1680),  # Ogham space mark
    (0x180E, 0x180E),  # Mongolian vowel separator
    (0x2000, 0x200F),  # en/em/thin/hair spaces, zero-width space/joiners, LRM, RLM
    (0x2028, 0x202F),  # line/paragraph separators, bidi embeddings and overrides, narrow NBSP
    (0x205F, 0x206F),  # medium math space, word joiner, invisible operators, bidi isolates
    (0x3000, 0x3000),  # ideographic space
    (0xFEFF, 0xFEFF),  # byte-order mark / zero-width no-break space
)

EXCEL_CELL_LIMIT = 32_767
_EXCEL_ILLEGAL = "[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]"
_EXCEL_DATE_FORMAT = "yyyy-mm-dd"
_TEXT_TYPES = (pl.String, pl.Categorical, pl.Enum)
_REFUSED_TYPES = (pl.List, pl.Array, pl.Struct, pl.Binary, pl.Object, pl.Duration)


def _python_char(code: int) -> str:
    return f"\\U{code:08x}"


def _rust_char(code: int) -> str:
    return f"\\x{{{code:x}}}"


def _char_class(ranges: Iterable[tuple[int, int]], render: Callable[[int], str]) -> str:
    parts = [render(lo) if lo == hi else f"{render(lo)}-{render(hi)}" for lo, hi in ranges]
    return "[" + "".join(parts) + "]"


def _trigger_pattern(render: Callable[[int], str]) -> str:
    """`^` + any ignored characters + a trigger; regex backtracking lets TAB/CR/LF/NUL be both."""
    triggers = [(ord(c), ord(c)) for c in sorted(TRIGGERS)]
    return "^" + _char_class(LEADING_IGNORED, render) + "*" + _char_class(triggers, render)


_TRIGGER_RE = re.compile(_trigger_pattern(_python_char))
_TRIGGER_POLARS = _trigger_pattern(_rust_char)  # the same pattern in Rust-regex syntax


def neutralise(value: str) -> str:
    """The string with a leading `'` when it would start a formula, otherwise unchanged."""
    if not isinstance(value, str):
        raise TypeError(f"neutralise takes text, not {type(value).__name__}; numbers stay numbers")
    return "'" + value if _TRIGGER_RE.match(value) else value


def _neutralised_expr(column: pl.Expr, *, name: str) -> pl.Expr:
    return (
        pl.when(column.str.contains(_TRIGGER_POLARS))
        .then(pl.concat_str(pl.lit("'"), column))
        .otherwise(column)
        .alias(name)
    )


def _unique_names(names: Iterable[str], *, fold_case: bool) -> list[str]:
    """The names with later duplicates suffixed `_2`, `_3`, … (compared case-folded if asked)."""
    key = str.casefold if fold_case else (lambda name: name)
    seen: set[str] = set()
    unique = []
    for name in names:
        candidate, n = name, 1
        while key(candidate) in seen:
            n += 1
            candidate = f"{name}_{n}"
        seen.add(key(candidate))
        unique.append(candidate)
    return unique


def _column(frame: pl.DataFrame, name: str) -> pl.Expr:
    """The named column, selected by position: `pl.col` would read "*" or "^a.*$" as patterns."""
    return pl.nth(frame.get_column_index(name))


def _text_columns(frame: pl.DataFrame) -> list[str]:
    return [name for name, dtype in frame.schema.items() if isinstance(dtype, _TEXT_TYPES)]


def _check_exportable(frame: pl.DataFrame) -> None:
    refused = [f"{name} ({dtype})" for name, dtype in frame.schema.items() if isinstance(dtype, _REFUSED_TYPES)]
    if refused:
        raise TypeError(
            "cannot export nested, binary, object or duration columns; convert them to text or "
            "numbers first: " + ", ".join(refused)
        )


def neutralised_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with every text cell and every column name neutralised (text columns become
    String; names made unique again if neutralising made two equal)."""
    text = _text_columns(frame)
    out = frame.with_columns(_neutralised_expr(_column(frame, name).cast(pl.String), name=name) for name in text)
    names = _unique_names((neutralise(name) for name in frame.columns), fold_case=False)
    return out.rename(dict(zip(frame.columns, names, strict=True)))


def _zoned_datetimes_as_text(frame: pl.DataFrame, *, naive_too: bool) -> pl.DataFrame:
    targets = [
        name
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Datetime) and (naive_too or dtype.time_zone is not None)
    ]
    # "iso:strict": 2026-10-31T09:30:00.000000, with "+01:00" when the column has a zone.
    return frame.with_columns(_column(frame, name).dt.to_string("iso:strict").alias(name) for name in targets)


def _non_finite_blanked(frame: pl.DataFrame) -> pl.DataFrame:
    floats = [name for name, dtype in frame.schema.items() if dtype.is_float()]
    return frame.with_columns(
        pl.when(_column(frame, name).is_finite()).then(_column(frame, name)).alias(name) for name in floats
    )


def csv_bytes(frame: pl.DataFrame) -> bytes:
    """UTF-8 (with BOM) CSV of the neutralised frame: every cell quoted, CRLF line ends,
    datetimes as ISO 8601 text, NaN/±inf empty."""
    _check_exportable(frame)
    ready = neutralised_frame(_non_finite_blanked(_zoned_datetimes_as_text(frame, naive_too=True)))
    buffer = io.BytesIO()
    ready.write_csv(buffer, include_bom=True, quote_style="always", line_terminator="\r\n")
    return buffer.getvalue()


def _excel_text(frame: pl.DataFrame, name: str) -> pl.Expr:
    text = _column(frame, name).cast(pl.String).str.replace_all(_EXCEL_ILLEGAL, "")
    return _neutralised_expr(text, name=name)


def _excel_name(name: str, position: int) -> str:
    cleaned = neutralise(re.sub(_EXCEL_ILLEGAL, "", name))
    return cleaned or f"Column{position}"  # what xlsxwriter would call an unnamed column


def _excel_ready(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame as xlsx_bytes writes it, before cells are cut to Excel's limit."""
    _check_exportable(frame)
    frame = _non_finite_blanked(_zoned_datetimes_as_text(frame, naive_too=False))
    out = frame.with_columns(_excel_text(frame, name) for name in _text_columns(frame))
    names = _unique_names(
        (_excel_name(name, position)[:EXCEL_CELL_LIMIT] for position, name in enumerate(frame.columns, start=1)),
        fold_case=True,
    )
    return out.rename(dict(zip(frame.columns, names, strict=True)))


def truncated_cells(frame: pl.DataFrame) -> int:
    """How many cells (column names included) xlsx_bytes would cut at Excel's 32,767 characters."""
    too_long = sum(len(_excel_name(name, 1)) > EXCEL_CELL_LIMIT for name in frame.columns)
    if _longest_text(frame) < EXCEL_CELL_LIMIT:  # readying a cell adds at most a leading ': none can pass the limit
        return too_long
    ready = _excel_ready(frame)
    text = _text_columns(ready)
    if not text or ready.height == 0:
        return too_long
    counts = ready.select(
        (_column(ready, name).str.len_chars() > EXCEL_CELL_LIMIT).sum().alias(name) for name in text
    ).row(0)
    return too_long + int(sum(counts))


def _longest_text(frame: pl.DataFrame) -> int:
    """The characters of the frame's longest text cell (0 without text). Zoned times, which the XLSX file
    writes as text, are far shorter than any limit."""
    text = _text_columns(frame)
    if not text or frame.height == 0:
        return 0
    longest = frame.select(pl.max_horizontal(_column(frame, name).cast(pl.String).str.len_chars().max()
                                             for name in text)).item()
    return int(longest or 0)


def xlsx_bytes(frame: pl.DataFrame, *, sheet: str = "leads") -> bytes:
    """An .xlsx workbook of the neutralised frame on one sheet: text is always text (never a
    formula, link or number), illegal control characters removed, cells cut at 32,767 chars."""
    from xlsxwriter import Workbook

    ready = _excel_ready(frame)
    ready = ready.with_columns(
        _column(ready, name).str.slice(0, EXCEL_CELL_LIMIT).alias(name) for name in _text_columns(ready)
    )
    buffer = io.BytesIO()
    # Our own workbook, so every option is explicit. polars' default workbook sets
    # strings_to_formulas=False but leaves strings_to_urls on: "http://…" would become a live
    # hyperlink and "mailto:x@y" would be rewritten to "x@y".
    workbook = Workbook(
        buffer,
        {
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "nan_inf_to_errors": True,
            "default_date_format": _EXCEL_DATE_FORMAT,
        },
    )
    try:
        ready.write_excel(workbook=workbook, worksheet=sheet)
    finally:
        workbook.close()
    return buffer.getvalue()


def download_name(base: str, *, as_of: date, ext: str) -> str:
    """A safe file name "<base>_<YYYY-MM-DD>.<ext>" using only [A-Za-z0-9_-] around the dot."""
    ascii_base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", ascii_base).strip("_-")[:80].strip("_-") or "export"
    suffix = re.sub(r"[^A-Za-z0-9]", "", ext).lower()[:10]
    if not suffix:
        raise ValueError(f"file extension {ext!r} has no letters or digits")
    day = date(as_of.year, as_of.month, as_of.day).isoformat()  # a datetime counts by its date
    return f"{stem}_{day}.{suffix}"
