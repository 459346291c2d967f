"""Tests for funnel.ingest.readers and funnel.ingest.worker: every untrusted export becomes a text table or one clear error.

The corpus tests walk shared/data/badinput/MANIFEST.csv. Each file goes through the real worker
process once per session (`parse_once`), several at a time, and its outcome is checked against
the manifest's expected class. Larger stress inputs (a 50 MB value, a zip bomb) are generated.
"""

from __future__ import annotations

import csv
import io
import os
import re
import zipfile
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funnel.config import default_settings
from funnel.errors import ExportFormatError, ValidationError
from funnel.ingest.importer import canonical_import
from funnel.ingest.mapping import identity_section
from funnel.ingest.readers import MAX_COLUMNS, MAX_EXPANDED_BYTES, MAX_LINE_BYTES, read_export
from funnel.ingest.worker import parse_untrusted
from funnel.schema import SOURCE_ROW
from tests.bombs import xlsx_bomb


def manifest_rows() -> list[dict[str, str]]:
    """The manifest, read at collection time (same lookup as the `shared_dir` fixture)."""
    shared = Path(os.environ.get("FUNNEL_SHARED") or Path(__file__).resolve().parents[2] / "shared")
    path = shared / "data" / "badinput" / "MANIFEST.csv"
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


MANIFEST = manifest_rows()
CORPUS_IDS = [row["path"] for row in MANIFEST] or ["corpus-absent"]
CORPUS_ROWS = MANIFEST or [None]

# Files whose contract is enforced after parsing: the reader hands over all-text rows, and the import
# into this table refuses them, naming row and column.
CHECKED_AT_IMPORT = {
    "synthetic/leads_wrong_types.parquet": "leads",  # created_at 'not a date'
    "synthetic/deals_mixed_dates_amounts.csv": "deals",  # '12k', 'NaN', '2024-02-30', …
}

LOADS = "loads"
FAILS = "fails"  # the whole file is refused
FAILS_AT_ROW = "fails naming a line or row"
EITHER = "loads or fails with a clear message"


def outcome_of(expected: str) -> str:
    """The manifest's expected class as what the reader must do."""
    if expected in ("NO_CRASH", "VALUES_ROUNDTRIP") or "_OR_" in expected or "ASK" in expected \
            or "_WHEN_" in expected:
        return EITHER
    if expected == "REJECT_FILE":
        return FAILS
    if expected == "REJECT_ROWS":
        return FAILS_AT_ROW
    if expected.startswith("LOAD") or expected in ("NEUTRALISE", "RENDER_INERT"):
        return LOADS
    raise AssertionError(f"unclassified manifest outcome {expected!r}: add it to outcome_of")


@pytest.fixture(scope="module")
def badinput(shared_dir: Path) -> Path:
    path = shared_dir / "data" / "badinput"
    if not (path / "MANIFEST.csv").is_file():
        pytest.skip(f"bad-input corpus not found at {path}")
    return path


@pytest.fixture(scope="module")
def corpus(badinput: Path, parse_once) -> dict[str, object]:
    """Every manifest file parsed by the worker: path -> ParsedFile or ExportFormatError."""
    parse_once.prefetch([badinput / row["path"] for row in MANIFEST])
    results: dict[str, object] = {}
    for row in MANIFEST:
        try:
            results[row["path"]] = parse_once(badinput / row["path"])
        except ExportFormatError as exc:
            results[row["path"]] = exc
    return results


def parsed(corpus: dict[str, object], rel: str):
    result = corpus[rel]
    assert not isinstance(result, ExportFormatError), f"{rel} should load, but: {result}"
    return result


def raw_lines(path: Path) -> list[str]:
    """The file's lines as text, in the encodings a reader could have used."""
    data = path.read_bytes()
    texts = {data.decode("utf-8", errors="ignore"), data.decode("latin-1")}
    for bom, codec in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if data.startswith(bom):
            texts.add(data[2:].decode(codec, errors="ignore"))
    return [line.strip() for text in texts for line in re.split(r"[\r\n]+", text)]


def assert_clear_error(exc: Exception, *, path: Path, name: str) -> None:
    """One line naming the file, with a reason and a hint; no server path, no raw record, no library text."""
    assert type(exc) is ExportFormatError, f"{name}: {type(exc).__name__}: {exc}"
    text = str(exc)
    assert text == exc.message()
    assert "\n" not in text and "\r" not in text
    assert text.startswith(name), text
    assert exc.reason and exc.hint, text
    assert len(text) < 600, text
    for leak in (str(path.parent), "/tmp", "funnel-parse-", ".utf8.csv", "Traceback", "duckdb.", "pyarrow"):
        assert leak not in text, f"{leak!r} leaked into: {text}"
    for line in raw_lines(path):
        if len(line) >= 16:
            assert line not in text, f"raw line {line[:40]!r} leaked into: {text}"


def assert_well_formed(result, *, name: str) -> None:
    """The reader's contract: text columns named by the unique header, then `_source_row` (2, 3, …)."""
    table: pa.Table = result.table
    assert result.name == name
    assert table.num_rows > 0
    assert table.column_names == [*result.header, SOURCE_ROW]
    assert len({h.lower() for h in result.header}) == len(result.header), result.header
    assert all(h and h == h.strip() and "\ufeff" not in h for h in result.header), result.header
    assert table.schema.field(SOURCE_ROW).type == pa.int64()
    assert all(pa.types.is_string(table.schema.field(h).type) or pa.types.is_large_string(table.schema.field(h).type)
               for h in result.header), table.schema
    rows = table.column(SOURCE_ROW).to_pylist()
    assert rows[0] >= 2 and rows == sorted(set(rows)), rows[:10]


# -------------------------------------------------------------------------------------- the corpus


@pytest.mark.parametrize("row", CORPUS_ROWS, ids=CORPUS_IDS)
def test_every_corpus_file_loads_or_fails_as_the_manifest_expects(row, corpus, badinput):
    if row is None:
        pytest.skip("bad-input manifest not found")
    rel, expected = row["path"], row["expected"]
    path = badinput / rel
    result = corpus[rel]
    want = outcome_of(expected)
    if isinstance(result, ExportFormatError):
        assert_clear_error(result, path=path, name=path.name)
        assert want in (FAILS, FAILS_AT_ROW, EITHER), f"{rel} ({expected}) should load, but: {result}"
        if want == FAILS_AT_ROW:
            assert result.line is not None or result.row is not None, str(result)
            assert re.search(r"\b(line|row) \d+", str(result)), str(result)
        return
    assert_well_formed(result, name=path.name)
    if rel in CHECKED_AT_IMPORT:
        frame = pl.from_arrow(result.table)
        with pytest.raises(ValidationError) as caught:
            canonical_import(frame, identity_section(CHECKED_AT_IMPORT[rel]), file_name=path.name,
                             settings=default_settings())
        assert caught.value.row is not None and caught.value.column, str(caught.value)
        assert re.search(r"row \d+, column '", str(caught.value)), str(caught.value)
        return
    assert want in (LOADS, EITHER), f"{rel} ({expected}) was accepted: {result.table.num_rows} rows, {result.header}"


def test_the_manifest_matches_the_files(badinput):
    import hashlib

    assert len(MANIFEST) >= 80
    for row in MANIFEST:
        data = (badinput / row["path"]).read_bytes()
        assert len(data) == int(row["bytes"]), row["path"]
        assert hashlib.sha256(data).hexdigest() == row["sha256"], row["path"]
        outcome_of(row["expected"])  # every class is one the tests know


# ------------------------------------------------------------------------------- specific values

SPECTRUM = {
    "comma_in_quotes.csv": [{"first": "John", "last": "Doe", "address": "120 any st.", "city": "Anytown, WW",
                             "zip": "08123"}],
    "escaped_quotes.csv": [{"a": "1", "b": 'ha "ha" ha'}, {"a": "3", "b": "4"}],
    "json.csv": [{"key": "1", "val": '{"type": "Point", "coordinates": [102.0, 0.5]}'}],
    "newlines.csv": [{"a": "1", "b": "2", "c": "3"}, {"a": "Once upon \na time", "b": "5", "c": "6"},
                     {"a": "7", "b": "8", "c": "9"}],
    "newlines_crlf.csv": [{"a": "1", "b": "2", "c": "3"}, {"a": "Once upon \r\na time", "b": "5", "c": "6"},
                          {"a": "7", "b": "8", "c": "9"}],
    "quotes_and_newlines.csv": [{"a": "1", "b": 'ha \n"ha" \nha'}, {"a": "3", "b": "4"}],
    "utf8.csv": [{"a": "1", "b": "2", "c": "3"}, {"a": "4", "b": "5", "c": "ʤ"}],
}


def records(result) -> list[dict[str, str | None]]:
    return result.table.drop_columns([SOURCE_ROW]).to_pylist()


@pytest.mark.parametrize("name", sorted(SPECTRUM))
def test_csv_spectrum_values_round_trip_exactly(name, corpus):
    """The expected parses of maxogden/csv-spectrum's json/ folder, value for value."""
    assert records(parsed(corpus, f"csv-spectrum/{name}")) == SPECTRUM[name]


def test_empty_fields_are_empty(corpus):
    for rel in ("csv-spectrum/empty.csv", "csv-spectrum/empty_crlf.csv"):
        rows = records(parsed(corpus, rel))
        assert [r["a"] for r in rows] == ["1", "2"]
        assert rows[0]["b"] in (None, "") and rows[0]["c"] in (None, "")
        assert (rows[1]["b"], rows[1]["c"]) == ("3", "4")


def test_quoted_newlines_keep_their_physical_rows(corpus):
    result = parsed(corpus, "duckdb/quoted_newlines.csv")
    assert result.header == ["hello world", "5"]  # a newline inside a header name becomes a space
    assert records(result) == [{result.header[0]: "what,\n brings, you here\n , today", "5": "6"}]
    assert result.table.column(SOURCE_ROW).to_pylist() == [2]


def test_leading_zeros_stay_text(corpus):
    result = parsed(corpus, "duckdb/leading_zero_codes.csv")
    assert result.table.column("CODGEO").to_pylist() == ["09001", "09002", "09003", "09004", "09005", "09006"]
    assert result.table.column("NAISD14").to_pylist()[0] == "0"


def test_big_numbers_stay_exact_text(corpus, badinput):
    result = parsed(corpus, "duckdb/big_number_overflow.csv")
    lines = (badinput / "duckdb/big_number_overflow.csv").read_text().split()
    assert result.table.column(result.header[0]).to_pylist() == lines[1:]


def test_utf16_little_endian_is_decoded(corpus):
    result = parsed(corpus, "duckdb/utf16le_bom.csv")
    assert result.encoding == "utf-16-le"
    assert result.header == ["name", "age"]
    names = result.table.column("name").to_pylist()
    assert names[:4] == ["José Álvarez", "Müller", "François Dupont", "Björn Andersson"]
    assert result.table.num_rows == 20


def test_utf16_big_endian_and_excel_unicode_text_equal_the_utf8_baseline(corpus):
    baseline = records(parsed(corpus, "synthetic/leads_clean_baseline.csv"))
    assert baseline[0]["lead_id"] == "L-0001" and baseline[2]["phone"] in (None, "")
    for rel, encoding, delimiter in (("synthetic/leads_utf16be_bom.csv", "utf-16-be", ","),
                                     ("synthetic/leads_excel_unicode_text_utf16le.txt", "utf-16-le", "\t")):
        result = parsed(corpus, rel)
        assert (result.encoding, result.delimiter) == (encoding, delimiter)
        assert records(result) == baseline, rel


def test_cp1252_is_decoded_with_a_warning(corpus):
    result = parsed(corpus, "synthetic/leads_cp1252_smart_quotes.csv")
    assert result.encoding == "windows-1252"
    assert any("Windows-1252" in w for w in result.warnings), result.warnings
    assert records(result) == [
        {"lead_id": "L-4001", "name": "Renée O\u2019Brien", "company": "\u201cQuoted\u201d Café",
         "deal_value": "€1\u00a0234"},
        {"lead_id": "L-4002", "name": "Jürgen Müller", "company": "Müller \u2013 Söhne", "deal_value": "€99"},
    ]


def test_latin1_file_decodes_without_mojibake(corpus):
    result = parsed(corpus, "duckdb/latin1_crlf.csv")
    text = " ".join(v for v in result.table.column("name").to_pylist() if v)
    assert "\ufffd" not in text and "Ã" not in text
    assert any(ch in text for ch in "éáüöñ")


def test_excel_sep_hint_sets_the_delimiter(corpus):
    result = parsed(corpus, "synthetic/deals_excel_sep_hint_semicolon.csv")
    assert result.delimiter == ";"
    assert result.header == ["deal_id", "amount", "probability", "close_date"]
    assert records(result)[0] == {"deal_id": "D-1", "amount": "1.234,56", "probability": "0,25",
                                  "close_date": "04.03.2024"}


def test_semicolon_file_is_detected(corpus):
    result = parsed(corpus, "duckdb/semicolon_decimal_comma.csv")
    assert result.delimiter == ";" and result.header == ["commas", "periods"]


def test_duplicate_headers_are_numbered_not_merged(corpus):
    result = parsed(corpus, "duckdb/duplicate_headers_collision.csv")
    assert result.header == ["a", "b", "a (2)", "a_1"]
    assert records(result)[0] == {"a": "123", "b": "TEST2", "a (2)": "text1", "a_1": "text1"}
    trailing = parsed(corpus, "duckdb/duplicate_headers_trailing_empty.csv")
    assert trailing.header[:3] == ["a", "a (2)", "a (3)"]
    assert trailing.header[-1] == "column_13"
    assert records(trailing)[0]["column_13"] == "value1"


def test_blank_header_is_named_by_its_position(corpus):
    result = parsed(corpus, "duckdb/header_blank_name.csv")
    assert result.header == ["a", "b", "c", "column_4", "e"]
    assert result.table.column("column_4").to_pylist() == ["4", "9"]


def test_bom_is_stripped_from_the_first_header(corpus):
    assert parsed(corpus, "duckdb/utf8bom_crlf.csv").header == ["id", "name"]
    collisions = parsed(corpus, "synthetic/header_variants_collisions.csv")
    assert collisions.header[:3] == ["Email", "email (2)", "E-Mail"]
    assert collisions.header[-2:] == ["lead id", "Lead_ID"]


def test_nul_bytes_are_removed_with_a_warning(corpus):
    result = parsed(corpus, "duckdb/nul_byte_in_value.csv")
    assert result.table.column("col2").to_pylist() == ["val2"]
    assert any("NUL" in w for w in result.warnings)


def test_injection_text_is_read_verbatim(corpus):
    result = parsed(corpus, "synthetic/leads_sql_path_injection.csv")
    assert result.header[1] == 'name"; DROP TABLE leads; --'
    assert result.header[3] == "read_csv('/etc/passwd')"
    assert records(result)[2][result.header[1]] == "x'); COPY (SELECT * FROM leads) TO '/tmp/leak.csv'; --"


def test_xlsx_title_rows_are_skipped_and_hidden_sheets_not_read(corpus):
    result = parsed(corpus, "synthetic/crm_report_formulas_merged_header.xlsx")
    assert result.format == "xlsx" and result.sheet == "Report"
    assert "Hidden" in result.sheets
    assert result.header == ["lead_id", "email", "deal_value", "created_at"]
    assert result.table.column("lead_id").to_pylist() == ["L-1", "L-2", "L-3", "L-4"]
    assert result.table.column(SOURCE_ROW).to_pylist() == [4, 5, 6, 8]
    # formulas are never evaluated: cells without a cached value stay empty
    assert result.table.column("email").to_pylist()[1] is None
    assert any("title" in w for w in result.warnings)


def test_xlsx_with_several_sheets_says_which_it_read(corpus):
    result = parsed(corpus, "polars/example.xlsx")
    assert result.sheet == result.sheets[0]
    assert any("sheets" in w for w in result.warnings)


@pytest.mark.parametrize("rel, what", [
    ("synthetic/png_header_named.csv", "PNG"),
    ("synthetic/xlsx_bytes_named.csv", "ZIP or XLSX"),
    ("synthetic/csv_text_named.xlsx", "not a valid XLSX"),
    ("synthetic/truncated.xlsx", "corrupt"),
    ("synthetic/truncated.parquet", "not a valid Parquet"),
])
def test_disguised_and_corrupt_files_are_refused_by_their_real_type(rel, what, corpus):
    result = corpus[rel]
    assert isinstance(result, ExportFormatError)
    assert what in result.reason


def test_nested_parquet_is_refused_naming_the_column(corpus):
    result = corpus["synthetic/leads_nested_schema.parquet"]
    assert isinstance(result, ExportFormatError) and result.column == "meta"


def test_wide_file_is_refused_with_the_limit(corpus):
    result = corpus["synthetic/wide_1000_columns.csv"]
    assert isinstance(result, ExportFormatError)
    assert "1000 columns" in result.reason and str(MAX_COLUMNS) in result.reason


@pytest.mark.parametrize("rel", ["duckdb/empty_0_bytes.csv", "synthetic/only_bom.csv", "synthetic/only_blank_lines.csv",
                                 "synthetic/whitespace_only.csv", "duckdb/header_only_no_newline.csv",
                                 "polars/only_header.csv", "synthetic/header_only_crlf.csv", "polars/empty.xlsx"])
def test_files_without_data_say_so(rel, corpus):
    result = corpus[rel]
    assert isinstance(result, ExportFormatError)
    assert re.search(r"empty|no data rows", result.reason), result.reason


@pytest.mark.parametrize("rel, line", [
    ("duckdb/ragged_missing_column.csv", 7),
    ("duckdb/ragged_last_row_extra_column.csv", 6),
    ("duckdb/ragged_more_columns_than_header.csv", 2),
    ("duckdb/ragged_trailing_comma.csv", 2),
    ("w3c-csvw/test091.csv", 3),
    ("duckdb/unterminated_quote.csv", 1),
])
def test_ragged_and_broken_records_name_their_physical_line(rel, line, corpus, badinput):
    result = corpus[rel]
    assert isinstance(result, ExportFormatError)
    assert result.line == line, str(result)
    if "ragged" in rel or "test091" in rel:
        fields = next(csv.reader(io.StringIO(raw_physical_line(badinput / rel, line))))
        header = next(csv.reader(io.StringIO(raw_physical_line(badinput / rel, 1))))
        assert len(fields) != len(header)


def test_rows_count_blank_lines_like_a_spreadsheet(tmp_path):
    """`_source_row` is the row a spreadsheet shows: blank lines between records are rows too."""
    path = tmp_path / "gaps.csv"
    path.write_text('lead_id,notes\nL-1,a\n\nL-2,"two\n\nparagraphs"\n\n\nL-3,c\n\n', encoding="utf-8")
    result = read_export(path, name="gaps.csv")
    assert result.table.column("lead_id").to_pylist() == ["L-1", "L-2", "L-3"]
    assert result.table.column("notes").to_pylist()[1] == "two\n\nparagraphs"
    assert result.table.column(SOURCE_ROW).to_pylist() == [2, 4, 7]


def raw_physical_line(path: Path, number: int) -> str:
    return path.read_text(encoding="utf-8").splitlines()[number - 1]


def test_invalid_utf8_names_line_and_byte(corpus):
    result = corpus["duckdb/rejects_nightmare_mixed_errors.csv"]
    assert isinstance(result, ExportFormatError)
    assert result.line == 38 and "UTF-8" in result.reason


# ------------------------------------------------------------------------------- values round trip


def written_csv(path: Path, values: list[str]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        writer.writerow(["id", "value"])
        writer.writerows([[str(i), v] for i, v in enumerate(values)])
    return path


def test_naughty_strings_round_trip_through_the_worker(badinput, tmp_path):
    """Every big-list-of-naughty-strings value, written as proper CSV, reads back unchanged."""
    lines = (badinput / "blns" / "blns.txt").read_text(encoding="utf-8").split("\n")
    values = [v for v in lines if v and not v.startswith("#")]
    values += ["a\r\nb", "cr\ronly", "lf\nonly", "  padded  ", '"', "=1+1", "sep=;"]
    result = parse_untrusted(written_csv(tmp_path / "naughty.csv", values), name="naughty.csv")
    assert result.table.column("value").to_pylist() == values


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(alphabet=st.characters(exclude_characters="\x00", exclude_categories=("Cs",)),
                        min_size=1, max_size=30), min_size=1, max_size=8))
def test_any_text_round_trips_through_the_csv_reader(tmp_path, values):
    """Property: CSV written by Python's csv module reads back value for value (empty means null)."""
    path = written_csv(tmp_path / "values.csv", values)
    result = read_export(path, name="values.csv")
    assert result.header == ["id", "value"]
    assert result.table.column("value").to_pylist() == values


# ---------------------------------------------------------------------------- generated stress input


def test_a_50_mb_value_is_refused_clearly(tmp_path):
    path = tmp_path / "huge_cell.csv"
    with open(path, "wb") as fh:
        fh.write(b"lead_id,notes\nL-1,short\nL-2,")
        fh.writelines([b"x" * (1 << 20)] * 50)
        fh.write(b"\nL-3,short\n")
    with pytest.raises(ExportFormatError) as caught:
        parse_untrusted(path, name="huge_cell.csv")
    exc = caught.value
    assert_clear_error(exc, path=path, name="huge_cell.csv")
    assert exc.line == 3, str(exc)
    assert "1 MiB" in exc.reason and MAX_LINE_BYTES == 1 << 20


def test_an_xlsx_zip_bomb_is_refused_before_unpacking(tmp_path):
    path = xlsx_bomb(tmp_path / "bomb.xlsx", real=MAX_EXPANDED_BYTES + (1 << 24))
    assert path.stat().st_size < 16 << 20
    with zipfile.ZipFile(path) as archive:
        assert sum(m.file_size for m in archive.infolist()) > MAX_EXPANDED_BYTES
    with pytest.raises(ExportFormatError) as caught:
        parse_untrusted(path, name="bomb.xlsx")
    assert_clear_error(caught.value, path=path, name="bomb.xlsx")
    assert "1 GiB" in caught.value.reason


# ------------------------------------------------------------------------------------ the worker


def test_a_worker_that_dies_becomes_a_clear_error(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text("lead_id\nL-1\n")
    with pytest.raises(ExportFormatError) as caught:
        parse_untrusted(path, name="leads.csv", memory_mb=16)
    assert "stopped unexpectedly" in caught.value.reason
    assert_clear_error(caught.value, path=path, name="leads.csv")


def test_a_worker_that_takes_too_long_is_stopped(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text("lead_id\nL-1\n")
    with pytest.raises(ExportFormatError) as caught:
        parse_untrusted(path, name="leads.csv", timeout_s=0.001)
    assert "longer than" in caught.value.reason


def test_the_worker_returns_what_the_reader_returns(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text('lead_id,name\nL-1,"Ada ""the first"""\nL-2,\n')
    direct = read_export(path, name="leads.csv")
    via_worker = parse_untrusted(path, name="leads.csv")
    assert via_worker.table.equals(direct.table)
    assert (via_worker.header, via_worker.encoding, via_worker.delimiter) == (direct.header, direct.encoding,
                                                                               direct.delimiter)
