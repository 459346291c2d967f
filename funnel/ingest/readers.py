"""Readers for CSV, XLSX and Parquet exports: bytes in, one all-text Arrow table out.

These run inside the worker subprocess (`funnel.ingest.worker`), because DuckDB, Arrow and calamine all
assume the files they read are trusted. Every check here exists because a real export broke a
naive reader: see shared/notes/safety.md and the bad-input corpus.

What comes out is always the same shape: the header as written (trimmed, blank names filled,
duplicates numbered), every value as text or null, and `_source_row`, the spreadsheet row
number of each record (the header is row 1), so every later error can point at the row.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from funnel.errors import ExportFormatError
from funnel.schema import SOURCE_ROW

if TYPE_CHECKING:
    import numpy as np

# The same caps for every format, checked before the data is materialised: CSV before DuckDB reads
# it, XLSX while its ZIP entries are inflated (sizes measured, never taken from the headers), Parquet
# from the footer metadata and then batch by batch as values are expanded to text.
MAX_LINE_BYTES = 1 << 20  # one record (CSV) or one cell (XLSX, Parquet) may not exceed 1 MiB
MAX_CELL_BYTES = MAX_LINE_BYTES
MAX_COLUMNS = 500
MAX_ROWS = 20_000_000
MAX_EXPANDED_BYTES = 1 << 30  # 1 GiB of text once decoded, inflated or expanded from a dictionary
PARQUET_BATCH_ROWS = 1 << 16
INFLATE_CHUNK = 1 << 20
DELIMITERS = (",", ";", "\t", "|")

MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"(\xb5/\xfd", "a zstd archive"),
    (b"BZh", "a bzip2 archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"\xd0\xcf\x11\xe0", "an old Excel (.xls) or other OLE file"),
    (b"SQLite format 3", "an SQLite database"),
    (b"MZ", "a Windows program"),
    (b"\x7fELF", "a Linux program"),
)


@dataclass
class ParsedFile:
    name: str
    format: str
    table: pa.Table
    header: list[str]
    encoding: str = ""
    delimiter: str = ""
    sheet: str = ""
    sheets: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def file_format(head: bytes, *, name: str) -> str:
    """'csv', 'xlsx' or 'parquet', from the first bytes; a clear error for anything else."""
    suffix = Path(name).suffix.lower()
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        if suffix in (".xlsx", ".xlsm", ".zip", ""):
            return "xlsx"
        raise ExportFormatError(f"the file is a ZIP or XLSX workbook, not a {suffix[1:].upper()} file",
                                file=name, hint="Export it again as CSV, or upload it with the .xlsx ending")
    for magic, what in MAGIC:
        if head.startswith(magic):
            raise ExportFormatError(f"the file is {what}, not a data export", file=name,
                                    hint="Upload a CSV, XLSX or Parquet export")
    if suffix == ".parquet":
        raise ExportFormatError("not a valid Parquet file (no PAR1 magic bytes)", file=name,
                                hint="The file is truncated or not Parquet; export it again")
    if suffix in (".xlsx", ".xlsm"):
        raise ExportFormatError("not a valid XLSX workbook (not a ZIP archive)", file=name,
                                hint="If it is really CSV text, rename it to .csv")
    if suffix == ".xls":
        raise ExportFormatError("old .xls workbooks are not supported", file=name,
                                hint="Save it as .xlsx or CSV in Excel first")
    return "csv"


def read_export(path: Path, *, name: str, sheet: str | None = None, header_row: int | None = None) -> ParsedFile:
    """The export at `path` as an all-text table with `_source_row`; `name` is what the user calls it."""
    with open(path, "rb") as fh:
        head = fh.read(64)
    kind = file_format(head, name=name)
    if kind == "parquet":
        return parquet_file(path, name=name)
    if kind == "xlsx":
        return xlsx_file(path, name=name, sheet=sheet, header_row=header_row)
    return csv_file(path, name=name)


# ---------------------------------------------------------------------------------------------- CSV


def decoded_utf8(data: bytes, *, name: str) -> tuple[bytes, str, list[str]]:
    """The file's text as clean UTF-8 bytes with '\\n' line ends, the encoding found, and warnings."""
    warnings: list[str] = []
    if data.startswith(codecs.BOM_UTF8):
        encoding, body = "utf-8 (with BOM)", data[3:]
        strict_utf8(body, name=name)
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        big = data.startswith(codecs.BOM_UTF16_BE)
        encoding = "utf-16-be" if big else "utf-16-le"
        try:
            body = data[2:].decode(encoding).encode("utf-8")
        except UnicodeDecodeError as exc:
            raise ExportFormatError(f"the file says it is {encoding.upper()} but byte {exc.start} is not",
                                    file=name, hint="Export it again as UTF-8 CSV") from None
    elif looks_like_bomless_utf16(data):
        raise ExportFormatError("the file looks like UTF-16 text without a byte-order mark", file=name,
                                hint="Export it again as UTF-8 CSV")
    elif data.isascii():
        encoding, body = "ascii", data
    else:
        try:
            strict_utf8(data, name=name)
            encoding, body = "utf-8", data
        except ExportFormatError as not_utf8:
            if has_valid_utf8_multibyte(data) or not plausible_cp1252(data):
                raise not_utf8 from None
            body = data.decode("cp1252").encode("utf-8")
            encoding = "windows-1252"
            warnings.append("The file is not UTF-8; it was decoded as Windows-1252 (Excel's Western default). "
                            "Check accented names in the preview.")
    if b"\x00" in body:
        count = body.count(b"\x00")
        body = body.replace(b"\x00", b"")
        warnings.append(f"Removed {count} NUL byte(s) that no spreadsheet can hold.")
    if b"\r" in body:
        body = unix_record_ends(body)
    return body, encoding, warnings


def unix_record_ends(body: bytes) -> bytes:
    """'\\r\\n' and lone '\\r' line ends as '\\n'; a line break inside a quoted value is kept as written."""
    import numpy as np

    if b'"' not in body:
        return body.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    returns = outside_quotes(body, 0x0D)
    if returns.size == 0:
        return body
    data = np.frombuffer(body, dtype=np.uint8)
    nxt = returns + 1
    paired = np.zeros(returns.size, dtype=bool)
    inside = nxt < len(body)
    paired[inside] = data[nxt[inside]] == 0x0A
    dropped = returns[paired]
    out = np.delete(data, dropped)
    lone = returns[~paired]
    out[lone - np.searchsorted(dropped, lone)] = 0x0A
    return out.tobytes()


SCAN_CHUNK = 1 << 24


def outside_quotes(body: bytes, byte: int) -> np.ndarray:
    """The positions of `byte` that lie outside double-quoted values (an even number of quotes before
    them), found with numpy chunk by chunk (no Python loop over bytes or records)."""
    import numpy as np

    found, quotes_before = [], 0
    for start in range(0, len(body), SCAN_CHUNK):
        chunk = np.frombuffer(body, dtype=np.uint8, count=min(SCAN_CHUNK, len(body) - start), offset=start)
        hits = np.flatnonzero(chunk == byte)
        quotes = np.flatnonzero(chunk == 0x22)
        if hits.size:
            parity = (quotes_before + np.searchsorted(quotes, hits)) % 2
            found.append(hits[parity == 0] + start)
        quotes_before += int(quotes.size)
    return np.concatenate(found) if found else np.empty(0, dtype=np.int64)


def strict_utf8(data: bytes, *, name: str) -> None:
    """Raises with the line and byte of the first invalid UTF-8 sequence."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    step = 1 << 24
    for start in range(0, len(data), step):
        chunk = data[start:start + step]
        try:
            decoder.decode(chunk, final=start + step >= len(data))
        except UnicodeDecodeError as exc:
            offset = start + exc.start
            line = data.count(b"\n", 0, offset) + 1
            column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
            raise ExportFormatError(f"the file is not valid UTF-8 at byte {column} of the line", file=name,
                                    line=line, hint="Export it again as UTF-8 CSV") from None


def has_valid_utf8_multibyte(data: bytes) -> bool:
    """True when the text holds well-formed UTF-8 multi-byte characters (so it is broken UTF-8, not cp1252)."""
    text = data[: 1 << 20].decode("utf-8", errors="replace")
    return any(ord(ch) > 127 and ch != "\ufffd" for ch in text)


def plausible_cp1252(data: bytes) -> bool:
    """True when high bytes look like Western accented letters, not a multi-byte encoding such as Shift-JIS."""
    sample = data[: 1 << 20]
    try:
        sample.decode("cp1252")
    except UnicodeDecodeError:
        return False
    high = [i for i, b in enumerate(sample) if b >= 0x80]
    if not high:
        return True
    paired = sum(1 for i in high if i + 1 < len(sample) and sample[i + 1] >= 0x80)
    return paired / len(high) < 0.3


def looks_like_bomless_utf16(data: bytes) -> bool:
    head = data[:2000]
    return len(head) >= 8 and head.count(b"\x00") > len(head) // 3


@dataclass(frozen=True)
class Dialect:
    delimiter: str
    header: list[str]
    skip_lines: int  # physical lines before the header (sep= hint, blank lines)
    header_lines: int  # physical lines the header spans (more than one when a name holds a newline)


def csv_dialect(body: bytes, *, name: str) -> Dialect:
    """The delimiter (Excel's `sep=` line wins, else the one giving the most consistent fields) and header."""
    prefix = body[: 1 << 20].decode("utf-8", errors="ignore")
    lines = prefix.split("\n")
    skip = 0
    forced = ""
    while skip < len(lines) and not lines[skip].strip():
        skip += 1
    if skip < len(lines) and lines[skip].lower().startswith("sep=") and len(lines[skip].strip()) == 5:
        forced = lines[skip].strip()[4]
        skip += 1
        while skip < len(lines) and not lines[skip].strip():
            skip += 1
    rest = lines[skip:]
    if not any(line.strip() for line in rest):
        raise ExportFormatError("the file has no header and no rows", file=name,
                                hint="Export it again with a header row and at least one record")
    candidates = (forced,) if forced else DELIMITERS
    best: tuple[float, int, str] | None = None
    for delim in candidates:
        records = first_records(rest, delim, limit=50)
        if not records:
            continue
        widths = [len(r) for r in records]
        consistency = widths.count(widths[0]) / len(widths)
        score = (consistency if widths[0] > 1 else 0.0, widths[0], delim)
        if best is None or score[:2] > best[:2]:
            best = score
    delimiter = best[2] if best else ","
    header, header_lines = header_record(rest, delimiter)
    if len(header) > MAX_COLUMNS:
        raise too_many_columns_error(len(header), name=name)
    return Dialect(delimiter=delimiter, header=header, skip_lines=skip, header_lines=header_lines)


def first_records(lines: list[str], delimiter: str, *, limit: int) -> list[list[str]]:
    reader = csv.reader(io.StringIO("\n".join(lines[: limit * 4])), delimiter=delimiter, quotechar='"')
    out = []
    try:
        for record in reader:
            if record:
                out.append(record)
            if len(out) >= limit:
                break
    except csv.Error:
        pass
    return out


def header_record(lines: list[str], delimiter: str) -> tuple[list[str], int]:
    """The header fields and the number of physical lines the header spans."""
    consumed = 0

    def counting():
        nonlocal consumed
        for line in lines:
            consumed += 1
            yield line + "\n"

    reader = csv.reader(counting(), delimiter=delimiter, quotechar='"')
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        header = []
    return header, consumed


def unique_header(raw: list[str]) -> list[str]:
    """Header names trimmed, blanks named `column_N`, repeats numbered `Name (2)`: never silently merged."""
    seen: dict[str, int] = {}
    out = []
    for i, name in enumerate(raw, start=1):
        clean = " ".join(name.replace("\ufeff", "").split())
        clean = clean or f"column_{i}"
        key = clean.lower()
        seen[key] = seen.get(key, 0) + 1
        out.append(clean if seen[key] == 1 else f"{clean} ({seen[key]})")
    return out


def csv_file(path: Path, *, name: str) -> ParsedFile:
    """Parses a CSV export with DuckDB's reader under lockdown, failing on any rejected record."""
    import duckdb

    if path.stat().st_size > MAX_EXPANDED_BYTES:
        raise too_large_error(name=name)
    data = path.read_bytes()
    if not data[:4096].strip(b" \t\r\n\x00\xef\xbb\xbf") and not data.strip(b" \t\r\n\x00\xef\xbb\xbf"):
        raise ExportFormatError("the file is empty", file=name, hint="Export it again with a header row and records")
    body, encoding, warnings = decoded_utf8(data, name=name)
    unchanged = body is data
    del data
    if len(body) > MAX_EXPANDED_BYTES:
        raise too_large_error(name=name)
    if body.count(b"\n") > MAX_ROWS + 1:
        raise too_many_rows_error(name=name)
    dialect = csv_dialect(body, name=name)
    if body.count(b'"') % 2:
        line = unterminated_quote_line(body)
        raise ExportFormatError("a quoted value is never closed", file=name, line=line,
                                hint='Every value that starts with " must end with "; export the file again')
    header = unique_header(dialect.header)
    # DuckDB's parallel scanner silently drops a record longer than its buffer (~32 MB) instead of
    # rejecting it (DuckDB 2.0; cf. duckdb/duckdb#8320), so over-long lines are refused here first.
    too_long = first_long_line(body, limit=MAX_LINE_BYTES)
    if too_long is not None:
        raise ExportFormatError("the record is longer than 1 MiB", file=name, line=too_long,
                                hint="Remove or shorten that value, or export the file again; nothing was imported")
    body_prefix = body[: 1 << 16]
    record_rows = spreadsheet_rows(body, dialect)
    clean_path = path if unchanged else path.with_name(path.name + ".utf8.csv")
    if not unchanged:
        clean_path.write_bytes(body)
    del body
    con = duckdb.connect(config={"autoload_known_extensions": False, "autoinstall_known_extensions": False,
                                 "allow_community_extensions": False, "threads": 2})
    con.execute("SET allowed_paths = $p", {"p": [str(clean_path)]})
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    columns = {f"c{i}": "VARCHAR" for i in range(len(header))}
    try:
        table = con.sql(
            "SELECT * FROM read_csv($path, delim = $delim, quote = '\"', escape = '\"', header = true, "
            "skip = $skip, columns = $columns, auto_detect = false, strict_mode = true, null_padding = false, "
            "store_rejects = true, compression = 'none', max_line_size = $max_line, new_line = '\\n')",
            params={"path": str(clean_path), "delim": dialect.delimiter, "skip": dialect.skip_lines,
                    "columns": columns, "max_line": MAX_LINE_BYTES},
        ).to_arrow_table()
        rejects = con.execute(
            "SELECT line, column_idx, error_type, error_message FROM reject_errors ORDER BY line, column_idx"
        ).fetchall()
    except duckdb.Error as exc:
        raise ExportFormatError("the CSV parser could not read the file", file=name,
                                hint=f"Check the delimiter and quoting ({type(exc).__name__})") from None
    finally:
        con.close()
        if not unchanged:
            clean_path.unlink(missing_ok=True)
    if rejects:
        raise rejected_records_error(rejects, header, name=name)
    if table.num_rows == 0:
        first = dialect.skip_lines + dialect.header_lines
        if any(line.strip() for line in lines_after(body_prefix, first)):
            raise ExportFormatError("no record could be read: the quoting looks broken", file=name,
                                    line=first + 1, hint='Values with quotes inside must be wrapped in " and '
                                    'the inner quotes doubled; export the file again')
        raise ExportFormatError("the file has a header but no data rows", file=name,
                                hint="Export it again with at least one record")
    table = table.rename_columns(header)
    if record_rows is None or len(record_rows) != table.num_rows:
        record_rows = None
    table = table.append_column(SOURCE_ROW, row_numbers(table.num_rows, record_rows))
    if len(header) == 1 and dialect.delimiter == ",":
        warnings.append("The file parsed as a single column; if it should have more, check its delimiter.")
    return ParsedFile(name=name, format="csv", table=table, header=header, encoding=encoding,
                      delimiter=dialect.delimiter, warnings=warnings)


def too_large_error(*, name: str) -> ExportFormatError:
    return ExportFormatError("the data is larger than 1 GiB once decoded or unpacked", file=name,
                             hint="Split the export into smaller files; nothing was imported")


def too_many_rows_error(*, name: str) -> ExportFormatError:
    return ExportFormatError(f"the file has more than {MAX_ROWS:,} rows", file=name,
                             hint="Split the export into smaller files; nothing was imported")


def too_many_columns_error(count: int, *, name: str) -> ExportFormatError:
    return ExportFormatError(f"the file has {count} columns; at most {MAX_COLUMNS} are supported",
                             file=name, hint="Export only the columns you need")


def too_long_cell_error(*, name: str, column: str | None = None, row: int | None = None) -> ExportFormatError:
    return ExportFormatError("a cell holds more than 1 MiB of text", file=name, column=column, row=row,
                             hint="Remove or shorten that value, or export the file again; nothing was imported")


def row_numbers(n: int, rows: list[int] | None = None) -> pa.Array:
    """Each record's spreadsheet row number as int64: `rows` when given, else 2, 3, … (row 1 the header).
    Built from a numpy buffer: `pa.array` on a list, range or array imports pandas (about 1 s per worker)."""
    import numpy as np

    values = np.asarray(rows, dtype=np.int64) if rows is not None else np.arange(2, n + 2, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(values)])


def spreadsheet_rows(body: bytes, dialect: Dialect) -> list[int] | None:
    """Each record's row number when blank lines sit between records (DuckDB skips them, a spreadsheet
    shows them as empty rows); None when there are none, and rows are simply 2, 3, …"""
    import numpy as np

    start = 0
    for _ in range(dialect.skip_lines + dialect.header_lines):
        start = body.find(b"\n", start) + 1
        if start == 0:
            return None
    end = len(body)
    while end > start and body[end - 1] == 0x0A:
        end -= 1
    if len(dialect.header) < 2 or body.find(b"\n\n", start, end) == -1:
        return None
    breaks = outside_quotes(body, 0x0A)
    breaks = breaks[(breaks >= start) & (breaks < end)]
    bounds = np.concatenate(([start - 1], breaks, [end]))
    filled = np.flatnonzero(np.diff(bounds) > 1)  # records between record ends; a blank line is empty
    return (filled + 2).tolist()


def first_long_line(body: bytes, *, limit: int) -> int | None:
    """The number of the first physical line longer than `limit` bytes, or None (vectorised, in chunks)."""
    import numpy as np

    if len(body) <= limit:
        return None
    step = 1 << 26
    last_break, lines_before = -1, 0
    for start in range(0, len(body), step):
        chunk = np.frombuffer(body, dtype=np.uint8, count=min(step, len(body) - start), offset=start)
        breaks = np.flatnonzero(chunk == 0x0A) + start
        ends = np.append(breaks, len(body)) if start + step >= len(body) else breaks
        if ends.size:
            gaps = np.diff(ends, prepend=last_break) - 1
            over = np.flatnonzero(gaps > limit)
            if over.size:
                return lines_before + int(over[0]) + 1
            last_break = int(ends[-1])
            lines_before += int(breaks.size)
        elif start + len(chunk) - last_break - 1 > limit:
            return lines_before + 1
    return None


def lines_after(prefix: bytes, count: int) -> list[str]:
    return prefix.decode("utf-8", errors="ignore").split("\n")[count:]


def unterminated_quote_line(body: bytes) -> int:
    """The physical line where the last unbalanced quote opens (every other quote, from the first, opens)."""
    import numpy as np

    open_at, quotes_before = 0, 0
    for start in range(0, len(body), SCAN_CHUNK):
        chunk = np.frombuffer(body, dtype=np.uint8, count=min(SCAN_CHUNK, len(body) - start), offset=start)
        quotes = np.flatnonzero(chunk == 0x22)
        opening = quotes[(quotes_before + np.arange(quotes.size)) % 2 == 0]
        if opening.size:
            open_at = int(opening[-1]) + start
        quotes_before += int(quotes.size)
    return body.count(b"\n", 0, open_at) + 1


REJECT_REASONS = {
    "MISSING COLUMNS": "the record has fewer fields than the header",
    "TOO MANY COLUMNS": "the record has more fields than the header",
    "UNQUOTED VALUE": "a quote appears inside a value that is not quoted",
    "LINE SIZE OVER MAXIMUM": "the record is longer than 1 MiB",
    "INVALID ENCODING": "the record is not valid UTF-8",
    "INVALID STATE": "the record's quoting is broken",
}


def rejected_records_error(rejects: list[tuple], header: list[str], *, name: str) -> ExportFormatError:
    first_line, column_idx, kind, _ = rejects[0]
    lines = sorted({r[0] for r in rejects})
    reason = REJECT_REASONS.get(kind, "the record could not be parsed")
    column = header[column_idx - 1] if column_idx and 0 < column_idx <= len(header) else None
    if kind in ("MISSING COLUMNS", "TOO MANY COLUMNS"):
        reason += f" ({len(header)} columns)"
    more = f"; {len(lines) - 1} more bad line(s): {', '.join(map(str, lines[1:11]))}" if len(lines) > 1 else ""
    return ExportFormatError(reason + more, file=name, line=int(first_line), column=column,
                             hint="Fix or remove those lines, or export the file again; nothing was imported",
                             details=[f"line {r[0]}: {REJECT_REASONS.get(r[2], r[2].lower())}" for r in rejects[:50]])


# --------------------------------------------------------------------------------------------- XLSX


def xlsx_file(path: Path, *, name: str, sheet: str | None, header_row: int | None) -> ParsedFile:
    """The chosen (default: first visible, non-empty) sheet, all cells as text; formulas never evaluated."""
    import fastexcel
    import pyarrow.compute as pc

    check_zip(path, name=name)
    try:
        reader = fastexcel.read_excel(path.read_bytes())
    except Exception:  # noqa: BLE001  (calamine raises its own types for every corrupt workbook)
        raise ExportFormatError("the workbook is corrupt or not an XLSX file", file=name,
                                hint="Open it in Excel and save it again as .xlsx") from None
    names = list(reader.sheet_names)
    visible = []
    for idx, sheet_name in enumerate(names):
        probe = reader.load_sheet(idx, header_row=None, n_rows=1, dtypes="string")
        if probe.visible == "visible":
            visible.append(sheet_name)
    if sheet is not None and sheet not in names:
        raise ExportFormatError(f"the workbook has no sheet {sheet!r}", file=name,
                                hint=f"Its sheets are: {', '.join(names)}")
    warnings = []
    chosen = sheet
    if chosen is None:
        for candidate in visible:
            if reader.load_sheet(candidate, header_row=None, dtypes="string").height > 0:
                chosen = candidate
                break
        if chosen is None:
            raise ExportFormatError("the workbook has no visible sheet with data", file=name,
                                    hint="Put the export on a visible sheet and save again")
        if len(visible) > 1:
            warnings.append(f"The workbook has {len(visible)} visible sheets; read {chosen!r}. Choose another "
                            "sheet if that is not the export.")
    grid = reader.load_sheet(chosen, header_row=None, dtypes="string").to_arrow()
    if grid.num_columns > MAX_COLUMNS:
        raise too_many_columns_error(grid.num_columns, name=name)
    if header_row is None:
        header_row = likely_header_row(grid)
        if header_row:
            warnings.append(f"Rows above row {header_row + 1} look like a title; the header was read from "
                            f"row {header_row + 1}.")
    columns = grid.columns
    raw_header = [columns[i][header_row].as_py() if header_row < grid.num_rows else None
                  for i in range(grid.num_columns)]
    body = grid.slice(header_row + 1)
    keep = [i for i, h in enumerate(raw_header) if h is not None or body.column(i).null_count < body.num_rows]
    header = unique_header([raw_header[i] or "" for i in keep])
    data_rows = filled_rows(body, keep)
    if not len(data_rows):
        raise ExportFormatError(f"sheet {chosen!r} has a header but no data rows", file=name,
                                hint="Check that the export is on this sheet")
    table = pa.table({h: body.column(i).take(data_rows) for h, i in zip(header, keep)})
    source_rows = pc.add(data_rows, header_row + 2).cast(pa.int64())
    table = table.append_column(SOURCE_ROW, source_rows)
    if any(h.startswith("column_") for h in header):
        warnings.append("Some header cells are empty; they were named column_N.")
    return ParsedFile(name=name, format="xlsx", table=table, header=header, sheet=chosen, sheets=names,
                      warnings=warnings)


def check_zip(path: Path, *, name: str) -> None:
    """Refuses a workbook that is not a plain XLSX, or whose content breaks the caps. Every entry is
    inflated here and measured (the sizes in ZIP headers are the sender's claim, never trusted); the
    worksheets are scanned while they stream for too many columns or rows and the shared strings and
    sheets for a cell over 1 MiB, before calamine loads anything."""
    try:
        with open(path, "rb") as fh, zipfile.ZipFile(fh) as archive:
            members = archive.infolist()
            content_types = archive.read("[Content_Types].xml") if "[Content_Types].xml" in archive.namelist() else b""
            if b"macroEnabled" in content_types:
                raise ExportFormatError("macro-enabled workbooks (.xlsm) are not accepted", file=name,
                                        hint="Save it as a plain .xlsx or CSV")
            if b"spreadsheetml" not in content_types:
                raise ExportFormatError("the ZIP archive is not an Excel workbook", file=name,
                                        hint="Upload the CSV or XLSX export itself")
            budget = MAX_EXPANDED_BYTES
            for member in members:
                scan = XlsxScan(member.filename, name=name)
                measured = inflated_size(fh, member, limit=budget, name=name, scan=scan)
                if measured != member.file_size:
                    raise ExportFormatError("the workbook's ZIP headers do not match its content "
                                            f"(an entry claims {member.file_size:,} bytes and holds more or less)",
                                            file=name, hint="Open it in Excel and save it again as .xlsx")
                budget -= measured
    except (zipfile.BadZipFile, OSError, KeyError, zlib.error, EOFError):
        raise ExportFormatError("the workbook is corrupt or truncated (not a readable ZIP archive)", file=name,
                                hint="Open it in Excel and save it again as .xlsx") from None


def inflated_size(fh, member: zipfile.ZipInfo, *, limit: int, name: str, scan: XlsxScan) -> int:
    """The bytes a ZIP entry really inflates to, read from its compressed data; refuses past `limit`."""
    fh.seek(member.header_offset)
    local = fh.read(30)
    if len(local) < 30 or local[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile("bad local header")
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    fh.seek(member.header_offset + 30 + name_len + extra_len)
    if member.compress_type == zipfile.ZIP_STORED:
        total = 0
        while total < member.compress_size:
            chunk = fh.read(min(INFLATE_CHUNK, member.compress_size - total))
            if not chunk:
                raise EOFError
            total += len(chunk)
            if total > limit:
                raise too_large_error(name=name)
            scan.feed(chunk)
        return total
    if member.compress_type != zipfile.ZIP_DEFLATED:
        raise ExportFormatError("the workbook uses a ZIP compression Excel does not write", file=name,
                                hint="Open it in Excel and save it again as .xlsx")
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    total = 0
    while not inflater.eof:
        pending = inflater.unconsumed_tail or fh.read(INFLATE_CHUNK)
        if not pending:
            raise EOFError
        out = inflater.decompress(pending, INFLATE_CHUNK)
        total += len(out)
        if total > limit:
            raise too_large_error(name=name)
        scan.feed(out)
    return total


BEYOND_MAX_COLUMN = re.compile(rb'<c\b[^>]*?\br="(?:[A-Z]{3}|S[G-Z]|[T-Z][A-Z])[0-9]')  # past column SF (500)


class XlsxScan:
    """Watches one inflating workbook entry: in a worksheet, a cell reference past the column cap or
    more rows than the row cap; in a worksheet or the shared strings, a text run over the cell cap."""

    def __init__(self, member: str, *, name: str) -> None:
        self.name = name
        self.sheet = member.startswith("xl/worksheets/") and member.endswith(".xml")
        self.active = self.sheet or member == "xl/sharedStrings.xml"
        self.tail = b""
        self.rows = 0
        self.run = 0  # bytes since the last '<'

    def feed(self, chunk: bytes) -> None:
        import numpy as np

        if not self.active or not chunk:
            return
        marks = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 0x3C)
        if marks.size == 0:
            self.run += len(chunk)
        else:
            longest = max(self.run + int(marks[0]), int(np.diff(marks).max(initial=0)) - 1)
            self.run = len(chunk) - int(marks[-1]) - 1
            if longest > MAX_CELL_BYTES:
                raise too_long_cell_error(name=self.name)
        if self.run > MAX_CELL_BYTES:
            raise too_long_cell_error(name=self.name)
        if self.sheet:
            window = self.tail + chunk
            if BEYOND_MAX_COLUMN.search(window):
                raise ExportFormatError(f"the sheet has cells beyond column {MAX_COLUMNS} (SF)", file=self.name,
                                        hint="Export only the columns you need")
            self.rows += chunk.count(b"<row") + (1 if self.tail.endswith(b"<") and chunk.startswith(b"row") else 0)
            if self.rows > MAX_ROWS + 1:
                raise too_many_rows_error(name=self.name)
            self.tail = window[-64:]


def filled_rows(body: pa.Table, columns: list[int]) -> pa.Array:
    """The indices of the rows with a non-blank cell in one of `columns` (Arrow compute, no loop over rows)."""
    import pyarrow.compute as pc

    filled = None
    for i in columns:
        text = pc.utf8_trim_whitespace(body.column(i).cast(pa.string()))
        cell = pc.fill_null(pc.greater(pc.utf8_length(text), 0), False)
        filled = cell if filled is None else pc.or_(filled, cell)
    if filled is None:
        return pa.array([], type=pa.uint64())
    return pc.indices_nonzero(filled)


def likely_header_row(grid: pa.Table) -> int:
    """The first of the top rows with the most filled cells (title rows above a header have few)."""
    best_row, best_filled = 0, -1
    for r in range(min(grid.num_rows, 20)):
        filled = sum(1 for c in grid.columns if c[r].is_valid and str(c[r].as_py()).strip())
        if filled > best_filled:
            best_row, best_filled = r, filled
    return best_row


# ------------------------------------------------------------------------------------------ Parquet


def parquet_file(path: Path, *, name: str) -> ParsedFile:
    """A flat Parquet file as text columns. The footer is read first (columns, rows, nested types),
    then the row groups batch by batch, each expanded to text and measured, so a small file whose
    dictionary-encoded columns expand to gigabytes is refused before it is."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        source = pq.ParquetFile(path)
        metadata, schema = source.metadata, source.schema_arrow
    except Exception:  # noqa: BLE001  (Arrow raises several types for corrupt files)
        raise ExportFormatError("not a valid Parquet file (corrupt or truncated)", file=name,
                                hint="Export it again") from None
    if len(schema) > MAX_COLUMNS:
        raise too_many_columns_error(len(schema), name=name)
    if metadata.num_rows > MAX_ROWS:
        raise too_many_rows_error(name=name)
    nested = [f.name for f in schema if pa.types.is_nested(f.type)]
    if nested:
        raise ExportFormatError("nested columns (lists, structs, maps) cannot be imported", file=name,
                                column=nested[0], hint="Flatten the export to one value per cell")
    header = unique_header(schema.names)
    for h, f in zip(header, schema):
        if pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type):
            raise ExportFormatError("binary columns cannot be imported", file=name, column=h,
                                    hint="Export that column as text")
    declared = sum(metadata.row_group(g).total_byte_size for g in range(metadata.num_row_groups))
    if declared > MAX_EXPANDED_BYTES:
        raise too_large_error(name=name)
    if metadata.num_rows == 0:
        raise ExportFormatError("the file has no rows", file=name, hint="Export it again with data")
    batches, expanded, first_row = [], 0, 2
    try:
        for batch in source.iter_batches(batch_size=PARQUET_BATCH_ROWS, use_threads=False):
            texts = [text_column(col) for col in batch.columns]
            for h, text in zip(header, texts):
                expanded += text.nbytes
                longest = pc.max(pc.binary_length(text)).as_py()
                if longest is not None and longest > MAX_CELL_BYTES:
                    at = pc.index(pc.greater(pc.binary_length(text), MAX_CELL_BYTES), True).as_py()
                    raise too_long_cell_error(name=name, column=h, row=first_row + at)
            if expanded > MAX_EXPANDED_BYTES:
                raise too_large_error(name=name)
            batches.append(pa.record_batch(texts, names=header))
            first_row += batch.num_rows
    except ExportFormatError:
        raise
    except (MemoryError, pa.ArrowMemoryError):
        raise MemoryError from None  # the worker reports it as needing more memory than allowed
    except Exception:  # noqa: BLE001  (a corrupt page surfaces only when it is read)
        raise ExportFormatError("not a valid Parquet file (corrupt or truncated)", file=name,
                                hint="Export it again") from None
    out = pa.Table.from_batches(batches, schema=pa.schema([(h, pa.string()) for h in header]))
    if out.num_rows == 0:
        raise ExportFormatError("the file has no rows", file=name, hint="Export it again with data")
    out = out.append_column(SOURCE_ROW, row_numbers(out.num_rows))
    return ParsedFile(name=name, format="parquet", table=out, header=header)


def text_column(col: pa.Array) -> pa.Array:
    """One Parquet column as text (dates and timestamps as ISO text, dictionaries expanded)."""
    if pa.types.is_null(col.type):
        return pa.nulls(len(col), pa.string())
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if pa.types.is_timestamp(col.type) or pa.types.is_date(col.type):
        return col.cast(pa.timestamp("us")).cast(pa.string())
    return col.cast(pa.string())
