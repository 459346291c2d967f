"""Tests for funnel.export: every download is neutralised, round-trips, and never holds a formula.

The corpus tests read the shared bad-input files. They skip (with the path they looked at) when
the shared folder is absent; set FUNNEL_SHARED to point at it.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import io
import os
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from funnel.export import (
    EXCEL_CELL_LIMIT,
    LEADING_IGNORED,
    TRIGGERS,
    csv_bytes,
    download_name,
    neutralise,
    neutralised_frame,
    truncated_cells,
    xlsx_bytes,
)

SHARED = Path(os.environ.get("FUNNEL_SHARED") or Path(__file__).resolve().parents[2] / "shared")
BADINPUT = SHARED / "data" / "badinput"
HAS_OPENPYXL = importlib.util.find_spec("openpyxl") is not None
SHEET_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
EXCEL_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# --- reference rule and readers -----------------------------------------------------------------


def starts_formula(text: str) -> bool:
    """Reference for the rule, written as a plain loop: skip leading ignored characters; the first
    trigger (TAB/CR/LF/NUL count even among the skipped ones) means the cell starts a formula."""
    for char in text:
        if char in TRIGGERS:
            return True
        if not any(lo <= ord(char) <= hi for lo, hi in LEADING_IGNORED):
            return False
    return False


def expected_text(text: str) -> str:
    return "'" + text if starts_formula(text) else text


def expected_excel_text(text: str) -> str | None:
    cell = expected_text(EXCEL_ILLEGAL.sub("", text))[:EXCEL_CELL_LIMIT]
    return cell or None  # xlsxwriter writes an empty string as a blank cell


def corpus_file(relative: str) -> Path:
    path = BADINPUT / relative
    if not path.is_file():
        pytest.skip(f"shared bad-input corpus not found: {path} (set FUNNEL_SHARED to the shared folder)")
    return path


def csv_records(payload: bytes) -> list[list[str]]:
    assert payload.startswith(b"\xef\xbb\xbf"), "CSV must start with a UTF-8 BOM"
    return list(csv.reader(io.StringIO(payload.decode("utf-8-sig"), newline="")))


def sheet_xml_problems(payload: bytes) -> list[str]:
    """Formulas, hyperlinks or inline rich text anywhere in any worksheet of the workbook."""
    problems = []
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        for name in archive.namelist():
            if not re.fullmatch(r"xl/worksheets/sheet\d+\.xml", name):
                continue
            root = ElementTree.fromstring(archive.read(name))
            problems += [f"{name}: formula in {c.get('r')}" for c in root.iterfind(".//m:c", SHEET_NS)
                         if c.find("m:f", SHEET_NS) is not None]
            problems += [f"{name}: hyperlinks" for _ in root.iterfind(".//m:hyperlinks", SHEET_NS)]
        problems += [f"hyperlink relation in {n}" for n in archive.namelist()
                     if n.endswith(".rels") and b"/hyperlink" in archive.read(n)]
    return problems


def xlsx_rows(payload: bytes, *, sheet: str = "leads") -> tuple[list[str], list[tuple[object, ...]]]:
    """Header and rows read back by openpyxl when installed (checking no cell is a formula),
    else by polars/fastexcel."""
    if HAS_OPENPYXL:
        import openpyxl

        worksheet = openpyxl.load_workbook(io.BytesIO(payload))[sheet]
        cells = list(worksheet.iter_rows())
        assert all(cell.data_type != "f" for row in cells for cell in row)
        values = [tuple(cell.value for cell in row) for row in cells]
        return [str(v) for v in values[0]], values[1:]
    frame = pl.read_excel(payload, sheet_name=sheet, drop_empty_rows=False)
    return frame.columns, frame.rows()


def strings_frame(path: Path) -> pl.DataFrame:
    """A CSV file read with Python's csv module, every cell kept verbatim as text."""
    with path.open(encoding="utf-8", newline="") as handle:
        header, *rows = list(csv.reader(handle))
    return pl.DataFrame(rows, schema={name: pl.String for name in header}, orient="row")


def blns_strings() -> list[str]:
    text = corpus_file("blns/blns.txt").read_text(encoding="utf-8")
    # split("\n"), not splitlines(): several naughty strings contain \x0b, \x1c, \x85 or \u2028.
    return list(dict.fromkeys(line for line in text.split("\n") if line and not line.startswith("#")))


# --- the rule -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+44 20 7946 0958", "'+44 20 7946 0958"),  # documented cost: a legit phone gets the '
        ("-5% discount agreed", "'-5% discount agreed"),
        ("@SUM(1+1)", "'@SUM(1+1)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("\nx", "'\nx"),
        ("\x00x", "'\x00x"),
        (" =1+1", "' =1+1"),
        ("\u00a0\u3000=1", "'\u00a0\u3000=1"),
        ("\u200b=1", "'\u200b=1"),  # zero-width space hides the trigger
        ("\ufeff@x", "'\ufeff@x"),
        ("\uff1d1+1", "'\uff1d1+1"),  # full-width ＝
        ("\uff0b1", "'\uff0b1"),
        ("\uff0d1", "'\uff0d1"),
        ("\uff20x", "'\uff20x"),
        (" \t x", "' \t x"),  # a tab among the leading whitespace is itself a trigger
        ("'=already quoted", "'=already quoted"),  # the apostrophe already makes it text
        ("Acme", "Acme"),
        ("a=b", "a=b"),
        ("x-1", "x-1"),
        ("", ""),
        ("   ", "   "),
        ("\x01a", "\x01a"),
    ],
)
def test_neutralise_examples(value: str, expected: str) -> None:
    assert neutralise(value) == expected


def test_neutralise_refuses_non_text() -> None:
    with pytest.raises(TypeError):
        neutralise(-5)  # type: ignore[arg-type]


def test_all_unicode_whitespace_is_skipped_before_the_check() -> None:
    spaces = [chr(c) for c in range(0x110000) if chr(c).isspace()]
    assert spaces
    for space in spaces:
        assert neutralise(space + "=1") == "'" + space + "=1", repr(space)


# Alphabet biased towards what matters: triggers, ignored characters, the apostrophe.
tricky_chars = st.one_of(
    st.sampled_from(sorted(TRIGGERS) + [" ", "\u00a0", "\u200b", "\ufeff", "'", "\x01", "\x0b", "a", "1", '"', ","]),
    st.characters(codec="utf-8"),
)
tricky_text = st.text(alphabet=tricky_chars, max_size=12)


@given(tricky_text)
def test_neutralised_text_never_starts_a_formula(value: str) -> None:
    out = neutralise(value)
    assert out.startswith("'") or not starts_formula(out)
    assert out in (value, "'" + value)  # only ever a prefix: the rest of the text is intact
    assert out == expected_text(value)
    # Idempotent under this rule: the added ' is not ignorable and not a trigger.
    assert neutralise(out) == out


@given(st.lists(st.one_of(st.none(), tricky_text), max_size=20))
def test_vectorised_equals_scalar(values: list[str | None]) -> None:
    frame = pl.DataFrame({"text": values}, schema={"text": pl.String})
    got = neutralised_frame(frame)["text"].to_list()
    assert got == [None if v is None else neutralise(v) for v in values]


def test_neutralised_frame_columns_types_and_names() -> None:
    frame = pl.DataFrame(
        {
            "=cmd": ["=1", "x"],
            "'=cmd": ["a", "b"],  # collides once "=cmd" is neutralised
            "amount": [-5, 3],
            "segment": pl.Series(["@a", "b"], dtype=pl.Categorical),
            "tier": pl.Series(["-low", "high"], dtype=pl.Enum(["-low", "high"])),
        }
    )
    out = neutralised_frame(frame)
    assert out.columns == ["'=cmd", "'=cmd_2", "amount", "segment", "tier"]
    assert out.row(0) == ("'=1", "a", -5, "'@a", "'-low")
    assert out.schema["amount"] == pl.Int64  # numbers stay numbers
    assert frame.columns[0] == "=cmd"  # the input is not modified


def test_column_names_are_taken_literally() -> None:
    # pl.col("*") is every column and pl.col("^a.*$") a regex: the exporter must not use them so.
    frame = pl.DataFrame({"*": ["=x"], "^a.*$": ["@y"], "a": [-1.5], "": ["+z"]})
    assert neutralised_frame(frame).row(0) == ("'=x", "'@y", -1.5, "'+z")
    assert csv_records(csv_bytes(frame)) == [["*", "^a.*$", "a", ""], ["'=x", "'@y", "-1.5", "'+z"]]
    header, rows = xlsx_rows(xlsx_bytes(frame))
    assert header == ["*", "^a.*$", "a", "Column4"]
    assert rows == [("'=x", "'@y", -1.5, "'+z")]


# --- CSV ----------------------------------------------------------------------------------------


def test_csv_bytes_exact_format() -> None:
    frame = pl.DataFrame(
        {"name": ['say "hi"', "=1", None], "n": [1, -5, None], "at": [dt.datetime(2026, 10, 31, 9, 30), None, None]}
    )
    assert csv_bytes(frame) == (
        '\ufeff"name","n","at"\r\n'
        '"say ""hi""","1","2026-10-31T09:30:00.000000"\r\n'
        '"\'=1","-5",""\r\n'
        '"","",""\r\n'
    ).encode("utf-8")


def test_csv_bytes_iso_datetimes_and_non_finite_floats() -> None:
    zoned = pl.Series([dt.datetime(2026, 10, 31, 9, 30)]).dt.replace_time_zone("Europe/Paris")
    frame = pl.DataFrame({"at": zoned, "day": [dt.date(2026, 10, 31)], "r": [float("-inf")], "s": [float("nan")]})
    assert csv_records(csv_bytes(frame))[1] == ["2026-10-31T09:30:00.000000+01:00", "2026-10-31", "", ""]


@pytest.mark.parametrize(
    "column",
    [pl.Series([["=1"]]), pl.Series([{"x": "=1"}]), pl.Series([b"=1"]), pl.Series([dt.timedelta(days=-3)])],
)
def test_unexportable_columns_are_refused(column: pl.Series) -> None:
    frame = pl.DataFrame({"c": column})
    with pytest.raises(TypeError, match="c"):
        csv_bytes(frame)
    with pytest.raises(TypeError, match="c"):
        xlsx_bytes(frame)


FORMULA_CELLS = {  # (lead_id, column) → must get the ' ; every other cell must come back unchanged
    ("L-1001", "first_name"), ("L-1002", "first_name"), ("L-1003", "first_name"),
    ("L-1003", "company"), ("L-1004", "first_name"), ("L-1005", "first_name"),
    ("L-1006", "first_name"), ("L-1007", "first_name"), ("L-1008", "first_name"),
    ("L-1009", "company"),  # "+44 20 7946 0958": a legit phone, prefixed (documented cost)
    ("L-1010", "notes"),  # "-5% discount agreed"
    ("L-1011", "first_name"),
}


def test_formula_injection_corpus_round_trips_through_csv() -> None:
    frame = strings_frame(corpus_file("synthetic/leads_formula_injection.csv"))
    header, *rows = csv_records(csv_bytes(frame))
    assert header == frame.columns
    assert len(rows) == frame.height
    prefixed = set()
    for original, written in zip(frame.iter_rows(named=True), rows, strict=True):
        assert len(written) == frame.width
        for (column, value), cell in zip(original.items(), written, strict=True):
            if cell != value:
                assert cell == "'" + value, (column, value, cell)
                prefixed.add((original["lead_id"], column))
            assert cell == expected_text(value)
    assert prefixed == FORMULA_CELLS
    assert rows[8][4] == "'+44 20 7946 0958"
    assert rows[11][1] == "'=already quoted"  # not doubled


def test_formula_payloads_as_column_names_are_neutralised() -> None:
    frame = strings_frame(corpus_file("synthetic/leads_formula_injection.csv"))
    names = list(dict.fromkeys(frame["first_name"].to_list()))
    wide = pl.DataFrame({name: [1] for name in names})
    header, values = csv_records(csv_bytes(wide))
    assert header == [expected_text(name) for name in names]
    assert values == ["1"] * len(names)
    xlsx_header, _ = xlsx_rows(xlsx_bytes(wide))
    assert xlsx_header == [expected_excel_text(name) for name in names]


def test_leading_plus_phone_file_gets_the_apostrophe() -> None:
    frame = strings_frame(corpus_file("duckdb/phone_numbers_leading_plus.csv"))
    _, *rows = csv_records(csv_bytes(frame))
    assert [row[0] for row in rows] == ["'" + phone for phone in frame["phone"]]


def test_blns_round_trips_through_csv() -> None:
    values = blns_strings()
    frame = pl.DataFrame({"value": values})
    header, *rows = csv_records(csv_bytes(frame))
    assert header == ["value"]
    assert [row for row in rows] == [[expected_text(v)] for v in values]
    for value, (cell,) in zip(values, rows, strict=True):
        assert cell.startswith("'") or not starts_formula(cell)
        assert cell.removeprefix("'") == value or cell == value


def test_blns_as_column_names_round_trip_through_csv() -> None:
    names = blns_strings()
    header, values = csv_records(csv_bytes(pl.DataFrame({name: [0] for name in names})))
    assert len(header) == len(values) == len(names)
    assert all(cell.startswith("'") or not starts_formula(cell) for cell in header)


frame_names = st.lists(st.text(max_size=6), min_size=1, max_size=5, unique=True)


@settings(max_examples=75, deadline=None)
@given(frame_names.flatmap(lambda names: st.tuples(
    st.just(names),
    st.lists(st.lists(st.one_of(st.none(), st.text(max_size=10)), min_size=len(names), max_size=len(names)),
             max_size=8),
)))
def test_csv_of_random_strings_parses_back_to_the_same_shape(case: tuple[list[str], list[list[str | None]]]) -> None:
    names, rows = case
    frame = pl.DataFrame(rows, schema={name: pl.String for name in names}, orient="row")
    header, *records = csv_records(csv_bytes(frame))
    assert len(header) == frame.width and len(records) == frame.height
    assert all(len(record) == frame.width for record in records)
    assert all(cell.startswith("'") or not starts_formula(cell) for cell in header)
    assert records == [["" if v is None else expected_text(v) for v in row] for row in rows]


# --- XLSX ---------------------------------------------------------------------------------------


def test_formula_injection_corpus_round_trips_through_xlsx() -> None:
    frame = strings_frame(corpus_file("synthetic/leads_formula_injection.csv"))
    payload = xlsx_bytes(frame)
    assert sheet_xml_problems(payload) == []
    header, rows = xlsx_rows(payload)
    assert header == frame.columns
    assert rows == [tuple(expected_excel_text(v) for v in row) for row in frame.rows()]
    assert rows[8][4] == "'+44 20 7946 0958"


def test_blns_round_trips_through_xlsx() -> None:
    values = blns_strings()
    payload = xlsx_bytes(pl.DataFrame({"value": values}))
    assert sheet_xml_problems(payload) == []
    header, rows = xlsx_rows(payload)
    assert header == ["value"]
    assert [row[0] for row in rows] == [expected_excel_text(v) for v in values]


def test_xlsx_numbers_stay_numeric_and_text_stays_text() -> None:
    frame = pl.DataFrame(
        {
            "amount": [-5, 1200, None],
            "rate": [-0.25, float("nan"), 0.5],
            "note": ["-5% discount", "http://attacker.example/x", "mailto:x@y.z"],
            "code": ["007", "1e3", "TRUE"],
        }
    )
    payload = xlsx_bytes(frame)
    assert sheet_xml_problems(payload) == []  # no formulas, and no URL turned into a hyperlink
    back = pl.read_excel(payload, sheet_name="leads")
    assert back.schema["amount"].is_numeric() and back["amount"].to_list() == [-5, 1200, None]
    assert back["rate"].to_list() == [-0.25, None, 0.5]  # NaN → empty cell, not an error cell
    assert back["note"].to_list() == ["'-5% discount", "http://attacker.example/x", "mailto:x@y.z"]
    assert back["code"].to_list() == ["007", "1e3", "TRUE"]


def test_xlsx_strips_control_characters_before_the_check() -> None:
    frame = pl.DataFrame({"\x07=name": ["\x01=1+1", "a\x00b\x1fc", "keep\ttab\r\nand\nlines", "_x0041_"]})
    header, rows = xlsx_rows(xlsx_bytes(frame))
    assert header == ["'=name"]
    assert [r[0] for r in rows] == ["'=1+1", "abc", "keep\ttab\r\nand\nlines", "_x0041_"]


def test_xlsx_cuts_long_cells_and_counts_them() -> None:
    # (the None is not last: calamine drops trailing blank rows on read, though they are written)
    frame = pl.DataFrame({"note": ["x" * 40_000, "=" + "y" * (EXCEL_CELL_LIMIT - 1), None, "z" * EXCEL_CELL_LIMIT]})
    assert truncated_cells(frame) == 2  # the second one grows past the limit by its '
    _, rows = xlsx_rows(xlsx_bytes(frame))
    assert [None if r[0] is None else len(r[0]) for r in rows] == [EXCEL_CELL_LIMIT] * 2 + [None, EXCEL_CELL_LIMIT]
    assert rows[1][0].startswith("'=")
    assert truncated_cells(pl.DataFrame({"n": [1]})) == 0
    assert truncated_cells(pl.DataFrame({"=" * EXCEL_CELL_LIMIT: [1]})) == 1
    # at the limit, a cell grows past it by its '; one character shorter, it fits with it
    assert truncated_cells(pl.DataFrame({"note": ["=" + "y" * (EXCEL_CELL_LIMIT - 1), "ok"]})) == 1
    assert truncated_cells(pl.DataFrame({"note": ["=" + "y" * (EXCEL_CELL_LIMIT - 2), "ok"]})) == 0
    assert truncated_cells(pl.DataFrame({"note": ["y" * EXCEL_CELL_LIMIT]}, schema={"note": pl.Categorical})) == 0


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["", "=", "+", "\x01", "\x01=", " =", "a"]),
                          st.integers(EXCEL_CELL_LIMIT - 3, EXCEL_CELL_LIMIT + 1)), min_size=1, max_size=4))
def test_counting_cut_cells_near_the_limit_agrees_with_the_cells_the_file_gets(cells) -> None:
    frame = pl.DataFrame({"note": [head + "y" * (length - len(head)) for head, length in cells]})
    _, rows = xlsx_rows(xlsx_bytes(frame))
    readied = [len(text) for text in frame_cells_readied(frame)]
    assert truncated_cells(frame) == sum(length > EXCEL_CELL_LIMIT for length in readied)
    assert all(len(row[0]) == min(length, EXCEL_CELL_LIMIT) for row, length in zip(rows, readied, strict=True))


def frame_cells_readied(frame: pl.DataFrame) -> list[str]:
    """Each cell of the frame's one column as the XLSX file would hold it before the cut: control characters
    dropped, then a leading ' when it would start a formula."""
    return [neutralise(re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "", value)) for value in frame.to_series()]


def test_xlsx_headers_equal_up_to_case_are_kept_apart() -> None:
    # xlsxwriter silently writes an EMPTY sheet for a table with headers equal up to case.
    frame = pl.DataFrame({"Owner": ["a"], "owner": ["b"], "": ["c"]})
    header, rows = xlsx_rows(xlsx_bytes(frame))
    assert header == ["Owner", "owner_2", "Column3"]
    assert rows == [("a", "b", "c")]


def test_xlsx_dates_and_zoned_datetimes() -> None:
    zoned = pl.Series([dt.datetime(2026, 10, 31, 9, 30)]).dt.replace_time_zone("America/New_York")
    frame = pl.DataFrame({"day": [dt.date(2026, 10, 31)], "at": [dt.datetime(2026, 10, 31, 9, 30)], "zoned": zoned})
    back = pl.read_excel(xlsx_bytes(frame, sheet="queue"), sheet_name="queue")
    assert back.row(0) == (dt.date(2026, 10, 31), dt.datetime(2026, 10, 31, 9, 30), "2026-10-31T09:30:00.000000-04:00")


def test_xlsx_empty_frame() -> None:
    payload = xlsx_bytes(pl.DataFrame({"a": []}, schema={"a": pl.String}))
    assert pl.read_excel(payload).columns == ["a"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(tricky_text, st.integers(min_value=-10**6, max_value=10**6)), min_size=1, max_size=10))
def test_xlsx_of_random_strings_round_trips(rows: list[tuple[str, int]]) -> None:
    frame = pl.DataFrame(rows, schema={"text": pl.String, "number": pl.Int64}, orient="row")
    payload = xlsx_bytes(frame)
    assert sheet_xml_problems(payload) == []
    _, back = xlsx_rows(payload)
    assert [r[0] for r in back] == [expected_excel_text(text) for text, _ in rows]
    assert [r[1] for r in back] == [number for _, number in rows]


# --- file names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "ext", "expected"),
    [
        ("sql_queue", "csv", "sql_queue_2026-10-31.csv"),
        ("SQL queue", ".XLSX", "SQL_queue_2026-10-31.xlsx"),
        ("../../etc/passwd", "csv", "etc_passwd_2026-10-31.csv"),
        ("Île-de-France leads", "csv", "Ile-de-France_leads_2026-10-31.csv"),
        ("\u202egnp.exe", "csv", "gnp_exe_2026-10-31.csv"),  # RTLO dropped
        ("-rf", "csv", "rf_2026-10-31.csv"),  # never starts like a command-line option
        ("", "csv", "export_2026-10-31.csv"),
        ("<script>", "csv", "script_2026-10-31.csv"),
        ("a\x00b", "c.s/v", "a_b_2026-10-31.csv"),
    ],
)
def test_download_name(base: str, ext: str, expected: str) -> None:
    assert download_name(base, as_of=dt.date(2026, 10, 31), ext=ext) == expected


def test_download_name_uses_the_date_of_a_datetime_and_rejects_empty_extensions() -> None:
    assert download_name("q", as_of=dt.datetime(2026, 10, 31, 23, 59), ext="csv") == "q_2026-10-31.csv"
    with pytest.raises(ValueError):
        download_name("q", as_of=dt.date(2026, 10, 31), ext="..")


@given(st.text(), st.dates())
def test_download_name_is_always_safe(base: str, day: dt.date) -> None:
    name = download_name(base, as_of=day, ext="csv")
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,79}_\d{4}-\d{2}-\d{2}\.csv", name), name
