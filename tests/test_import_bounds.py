"""Bounded imports whatever the format: the same caps for CSV, XLSX and Parquet, checked before the
data is materialised; ZIP entries measured while inflating; validation inside the limited worker;
ambiguous headers and invisible id characters refused; file names printed on one line. Every hostile
file is built here (never committed)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from funnel.cli import main as cli
from funnel.errors import ExportFormatError, FunnelError, MappingError, ValidationError
from funnel.ingest import importer
from funnel.ingest.importer import prepare_import
from funnel.ingest.readers import MAX_CELL_BYTES, MAX_COLUMNS, MAX_EXPANDED_BYTES, read_export
from funnel.ingest.worker import parse_untrusted
from tests.bombs import xlsx_bomb


def workbook(path: Path, rows: list[list[str]]) -> Path:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Leads")
    for r, row in enumerate(rows):
        sheet.write_row(r, 0, row)
    book.close()
    return path


def rewritten(path: Path, member: str, old: bytes, new: bytes) -> Path:
    """The workbook with one entry's bytes replaced (for content xlsxwriter refuses to write)."""
    with zipfile.ZipFile(path) as archive:
        entries = {i.filename: archive.read(i.filename) for i in archive.infolist()}
    assert old in entries[member]
    entries[member] = entries[member].replace(old, new)
    out = path.with_name("rewritten_" + path.name)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out


# ---------------------------------------------------------------------------------- the same caps


def test_a_wide_xlsx_is_refused_like_a_wide_csv(tmp_path):
    path = workbook(tmp_path / "wide.xlsx", [[f"c{i}" for i in range(10_000)], ["x"] * 10_000])
    with pytest.raises(ExportFormatError) as caught:
        read_export(path, name="wide.xlsx")
    assert str(MAX_COLUMNS) in str(caught.value)


def test_a_wide_parquet_is_refused_from_its_footer(tmp_path):
    path = tmp_path / "wide.parquet"
    pq.write_table(pa.table({f"c{i}": ["x"] for i in range(10_000)}), path)
    with pytest.raises(ExportFormatError) as caught:
        read_export(path, name="wide.parquet")
    assert "10000 columns" in caught.value.reason and str(MAX_COLUMNS) in caught.value.reason


def test_a_30_mb_xlsx_cell_is_refused_while_inflating(tmp_path):
    small = workbook(tmp_path / "cell.xlsx", [["lead_id", "note"], ["L-1", "PLACEHOLDER"]])
    path = rewritten(small, "xl/sharedStrings.xml", b"PLACEHOLDER", b"n" * (30 << 20))
    with pytest.raises(ExportFormatError) as caught:
        read_export(path, name="cell.xlsx")
    assert "1 MiB" in caught.value.reason


def test_a_long_parquet_cell_is_refused_with_its_row_and_column(tmp_path):
    path = tmp_path / "cell.parquet"
    pq.write_table(pa.table({"lead_id": ["L-1", "L-2"], "note": ["short", "n" * (MAX_CELL_BYTES + 1)]}), path)
    with pytest.raises(ExportFormatError) as caught:
        read_export(path, name="cell.parquet")
    assert (caught.value.row, caught.value.column) == (3, "note")


def test_a_dictionary_encoded_parquet_is_refused_before_it_expands(tmp_path):
    """A few MB on disk, over 1 GiB once its one repeated note is expanded: refused batch by batch,
    in the worker, without the whole table ever existing."""
    rows = 3_000_000
    note = pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()), pa.array(["n" * 400]))
    path = tmp_path / "notes.parquet"
    pq.write_table(pa.table({"lead_id": pa.array([f"L-{i}" for i in range(rows)]), "note": note}), path)
    assert path.stat().st_size < 32 << 20
    with pytest.raises(ExportFormatError) as caught:
        parse_untrusted(path, name="notes.parquet")
    assert "1 GiB" in caught.value.reason


def test_a_zip_whose_headers_lie_about_its_size_is_measured_and_refused(tmp_path):
    """1.5 GiB of sheet whose local and central headers both claim 200 bytes."""
    path = xlsx_bomb(tmp_path / "liar.xlsx", real=3 * (1 << 29), claimed=200)
    assert path.stat().st_size < 16 << 20
    with pytest.raises(ExportFormatError) as caught:
        parse_untrusted(path, name="liar.xlsx")
    assert "1 GiB" in caught.value.reason
    assert MAX_EXPANDED_BYTES == 1 << 30


def test_a_zip_that_holds_more_than_its_headers_say_is_refused(tmp_path):
    path = xlsx_bomb(tmp_path / "small_liar.xlsx", real=1 << 24, claimed=200)
    with pytest.raises(ExportFormatError) as caught:
        read_export(path, name="small_liar.xlsx")
    assert "do not match" in caught.value.reason


# ------------------------------------------------------------------------- validation in the worker


def test_validation_runs_in_the_limited_worker_not_in_the_caller(tmp_path, monkeypatch):
    path = tmp_path / "leads.csv"
    path.write_text("lead_id,email\nL-1,a@example.com\nL-2,b@example.com\n")

    def not_here(*args, **kwargs):
        raise AssertionError("validation ran in the caller's process")
    monkeypatch.setattr(importer, "canonical_import", not_here)
    monkeypatch.setattr(importer, "read_export", not_here)
    prepared = prepare_import(path)
    assert prepared.table == "leads" and prepared.frame.height == 2 and len(prepared.sha256) == 64


def test_a_validation_error_crosses_from_the_worker_with_its_type_and_place(tmp_path):
    path = tmp_path / "deals.csv"
    path.write_text("deal_id,amount\nD-1,12\nD-2,twelve\n")
    with pytest.raises(ValidationError) as caught:
        prepare_import(path, table="deals")
    assert (caught.value.row, caught.value.column, caught.value.value) == (3, "amount", "twelve")


# ------------------------------------------------------------------------- headers, ids, file names


def test_the_id_column_twice_under_different_case_and_spaces_is_refused(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text("lead_id,Lead_ID, LEAD_ID ,email\nL-1,L-2,L-3,a@example.com\n")
    with pytest.raises(MappingError) as caught:
        prepare_import(path, table="leads")
    assert "'lead_id'" in caught.value.reason and "'Lead_ID (2)'" in caught.value.reason
    assert "LEAD_ID (3)" in caught.value.reason and "Rename or remove" in caught.value.hint


@pytest.mark.parametrize("hidden", ["\u200b", "\u200d", "\u202e", "\u2066", "\ufeff", "\u00ad"])
def test_invisible_and_bidi_characters_in_ids_are_refused_with_row_and_column(tmp_path, hidden):
    path = tmp_path / "leads.csv"
    path.write_text(f"lead_id,email\nL-1,a@example.com\nL{hidden}1,b@example.com\n", encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        prepare_import(path, table="leads")
    assert (caught.value.row, caught.value.column) == (3, "lead_id")
    assert f"<U+{ord(hidden):04X}>" in caught.value.value
    assert hidden not in str(caught.value)


def test_a_file_name_cannot_forge_a_line_of_cli_output(tmp_path, capsys):
    path = tmp_path / "leads\nfunnel: all good.csv"
    path.write_text("lead_id,email\nL-1,a@example.com\n")
    assert cli.main(["import", "--db", str(tmp_path / "f.duckdb"), str(path)]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "leads\\nfunnel: all good.csv" in out
    bad = tmp_path / "bad\u202etxt.csv"
    bad.write_text("lead_id,email\n,a@example.com\n")
    assert cli.main(["import", "--db", str(tmp_path / "f.duckdb"), str(bad)]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\u202e" not in err and "bad\\u202etxt.csv" in err


def test_error_messages_escape_control_characters_in_names():
    text = FunnelError("broken", file="a\r\nb\x1b[31m.csv", column="x\ny").message()
    assert "\n" not in text and "\r" not in text and "\x1b" not in text


# ------------------------------------------------------------------------- one worker per batch

LEAKY_WORKER = '''
import sys
from funnel.ingest.worker import served

answered = 0


def job(request, work):
    """Runs out of memory on a "big" request unless it is the first this process serves (as a long-lived
    reader whose address space grew with each file would)."""
    global answered
    answered += 1
    if request["big"] and answered > 1:
        raise MemoryError
    return {"answered_by_a_child_that_had_served": answered - 1}


if __name__ == "__main__":
    sys.exit(served(job))
'''


def test_a_file_out_of_memory_in_a_worker_that_served_others_is_read_again_by_a_fresh_one(tmp_path, monkeypatch):
    """A batch of many files reuses one limited child; what earlier files left in its address space must not
    fail a later file that fits on its own (a 50-file import stopped at its 48th, a file imported alone fine)."""
    from funnel.ingest.worker import BatchWorker

    (tmp_path / "leaky_worker.py").write_text(LEAKY_WORKER)
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}:{Path(__file__).resolve().parents[1]}")
    with BatchWorker("leaky_worker") as worker:
        with worker.answer({"name": "a.csv", "big": False}, name="a.csv") as (meta, _):
            assert meta == {"answered_by_a_child_that_had_served": 0}
        with worker.answer({"name": "b.csv", "big": True}, name="b.csv") as (meta, _):
            assert meta == {"answered_by_a_child_that_had_served": 0}  # a fresh child read it
        with worker.answer({"name": "c.csv", "big": False}, name="c.csv") as (meta, _):
            assert meta == {"answered_by_a_child_that_had_served": 1}  # and serves the rest of the batch
        assert worker.restarts == 1


def test_a_file_out_of_memory_in_a_fresh_worker_fails_with_what_to_do(tmp_path, monkeypatch):
    from funnel.ingest.worker import BatchWorker

    (tmp_path / "leaky_worker.py").write_text(LEAKY_WORKER.replace("answered > 1", "answered > 0"))
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}:{Path(__file__).resolve().parents[1]}")
    with BatchWorker("leaky_worker") as worker:
        with (pytest.raises(ExportFormatError, match="needs more memory") as caught,
              worker.answer({"name": "big.csv", "big": True}, name="big.csv")):
            pass
        assert caught.value.file == "big.csv" and "Split" in caught.value.hint
        assert worker.restarts == 0
