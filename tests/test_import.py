"""Tests for funnel.ingest.importer: typed canonical rows, mappings, history, removal, and atomic failure.

Every file is parsed by the real worker. Corpus files go through `parse_once` (the worker's result
for each file, computed once per session, see conftest), so running the real CLI against every file
of the bad-input corpus stays fast; one test runs the CLI on a refused file without the memo.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from funnel.cli import main as cli
from funnel.config import default_settings
from funnel.errors import FunnelError, MappingError, StoreError, ValidationError
from funnel.ingest import importer
from funnel.ingest.importer import attribute_entries, canonical_import, prepare_import
from funnel.ingest.mapping import identity_section, load_mapping, mapping_from_text
from funnel.model.identity import rebuild_identity
from funnel.schema import DUCKDB_TYPE, IMPORTS, SOURCE_ROW, TABLES
from funnel.store.db import connect, frame, memory_connection, scalar, table_counts
from funnel.store.inventory import import_history
from tests.in_process import imports_in_process

SETTINGS = default_settings()


def rows_frame(columns: dict[str, list]) -> pl.DataFrame:
    """A parsed file as the worker hands it over: text columns and `_source_row` 2, 3, …"""
    height = len(next(iter(columns.values())))
    return pl.DataFrame(columns, schema={k: pl.String for k in columns}).with_columns(
        pl.Series(SOURCE_ROW, range(2, height + 2), dtype=pl.Int64))


def imported(columns: dict[str, list], table: str, *, section=None):
    return canonical_import(rows_frame(columns), section or identity_section(table), file_name="export.csv",
                            settings=SETTINGS)


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_import(con, prepared, **options):
    """An import as the CLI and the Data page run it: written, then the identity model rebuilt."""
    result = importer.write_import(con, prepared, **options)
    rebuild_identity(con)
    return result


def remove_import(con, import_id, **options):
    importer.remove_import(con, import_id, **options)
    rebuild_identity(con)


def snapshot(con) -> dict[str, list]:
    """Every canonical, history and bookkeeping table's rows, sorted: equal snapshots mean nothing changed. The
    lead model's state is left out: it records when the model was last rebuilt, which every import does."""
    names = [r for r in con.execute("SELECT schema_name, table_name FROM duckdb_tables() "
                                    "WHERE NOT temporary AND table_name <> 'model_state' ORDER BY 1, 2").fetchall()]
    return {f"{s}.{n}": sorted(map(repr, con.execute(f'SELECT * FROM "{s}"."{n}"').fetchall())) for s, n in names}


# ------------------------------------------------------------------------------- canonical sample


@pytest.fixture(scope="module")
def sample_db(sample_files, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sample-db") / "funnel.duckdb"
    con = connect(path)
    try:
        for table, file in sample_files.items():
            result = write_import(con, prepare_import(file))
            assert result.table == table and result.status == "imported"
    finally:
        con.close()
    return path


@pytest.mark.parametrize("table", ["leads", "accounts", "activities", "stage_events", "deals"])
def test_canonical_files_load_into_their_tables_with_typed_columns(table, sample_db, sample_files):
    expected_rows = pl.read_csv(sample_files[table], infer_schema=False).height
    con = connect(sample_db, read_only=True)
    try:
        assert table_counts(con)[table] == expected_rows
        types = dict(con.execute(f"SELECT column_name, data_type FROM information_schema.columns "
                                 f"WHERE table_name = '{table}'").fetchall())
        history = scalar(con, f'SELECT count(*) FROM raw."{table}__history"')
    finally:
        con.close()
    for col in TABLES[table].columns:
        assert types[col.name] == DUCKDB_TYPE[col.kind], (table, col.name)
    assert history == 0


def test_sample_values_arrive_typed(sample_db, sample_files):
    source = pl.read_csv(sample_files["deals"], infer_schema=False)
    con = connect(sample_db, read_only=True)
    try:
        deals = frame(con, "SELECT deal_id, amount, won, created_at FROM deals")
        leads = frame(con, "SELECT lead_id, created_at, employees FROM leads")
    finally:
        con.close()
    first = source.row(0, named=True)
    stored = deals.filter(pl.col("deal_id") == first["deal_id"]).row(0, named=True)
    assert stored["amount"] == (float(first["amount"]) if first["amount"] else None)
    assert stored["created_at"] == datetime.fromisoformat(first["created_at"])
    assert deals.schema["won"] == pl.Boolean and leads.schema["employees"] == pl.Int64
    assert leads.get_column("created_at").null_count() == 0


# ------------------------------------------------------------------------------------------- dates


def test_explicit_date_formats_parse_and_a_bad_date_names_row_column_value():
    section = mapping_from_text('date_formats = ["%d.%m.%Y"]\n[[file]]\ntable = "deals"\n'
                                '[file.columns]\nid = "deal_id"\nclose_date = "closed_at"\n').files[0]
    good = imported({"id": ["D-1", "D-2"], "close_date": ["04.03.2024", "31.12.2024"]}, "deals", section=section)
    assert good.frame.get_column("closed_at").to_list() == [datetime(2024, 3, 4), datetime(2024, 12, 31)]
    with pytest.raises(ValidationError) as caught:
        imported({"id": ["D-1", "D-2", "D-3"], "close_date": ["04.03.2024", "30.02.2024", "2024-03-04"]}, "deals",
                 section=section)
    exc = caught.value
    assert (exc.row, exc.column, exc.value) == (3, "close_date", "30.02.2024")
    assert "row 3, column 'close_date'" in str(exc) and "'30.02.2024'" in str(exc)
    assert any("row 4" in d and "2024-03-04" in d for d in exc.details)  # only the listed formats count


def test_ambiguous_dates_are_not_guessed():
    with pytest.raises(ValidationError) as caught:
        imported({"lead_id": ["L-1"], "created_at": ["03/04/2024"]}, "leads")
    assert caught.value.column == "created_at" and caught.value.row == 2


def test_a_zone_suffix_is_dropped_not_shifted():
    result = imported({"lead_id": ["L-1", "L-2"], "created_at": ["2024-03-04T10:00:00+05:30", "2024-03-04 10:00Z"]},
                      "leads")
    assert result.frame.get_column("created_at").to_list() == [datetime(2024, 3, 4, 10)] * 2


# ----------------------------------------------------------------------------------------- amounts


@pytest.mark.parametrize("text, amount", [
    ("$1,234.56", 1234.56), ("(500)", -500.0), ("1,234", 1234.0), ("€ 99", 99.0), ("-3.5", -3.5),
    ("12,345,678.9", 12345678.9), ("USD 10", 10.0), ("1e3", 1000.0),
])
def test_amounts_are_parsed(text, amount):
    result = imported({"deal_id": ["D-1"], "amount": [text]}, "deals")
    assert result.frame.get_column("amount").to_list() == [amount]


@pytest.mark.parametrize("text", ["NaN", "nan", "INF", "-inf", "Infinity", "12k", "-", "1.234,56 €", "1,23",
                                  "(500", "N/A"])
def test_bad_amounts_are_refused_naming_the_cell(text):
    with pytest.raises(ValidationError) as caught:
        imported({"deal_id": ["D-1", "D-2"], "amount": ["10", text]}, "deals")
    assert (caught.value.row, caught.value.column, caught.value.value) == (3, "amount", text)
    assert "is not a number" in caught.value.reason


def test_decimal_comma_amounts():
    section = mapping_from_text('decimal = ","\n[[file]]\ntable = "deals"\n'
                                '[file.columns]\ndeal_id = "deal_id"\namount = "amount"\n').files[0]
    result = imported({"deal_id": ["D-1", "D-2", "D-3"], "amount": ["1.234,56", "0,25", "99"]}, "deals",
                      section=section)
    assert result.frame.get_column("amount").to_list() == [1234.56, 0.25, 99.0]
    with pytest.raises(ValidationError):
        imported({"deal_id": ["D-1"], "amount": ["1.5"]}, "deals", section=section)  # not 15


def test_corpus_deals_report_every_bad_cell(shared_dir, parse_once, monkeypatch):
    imports_in_process(monkeypatch, parse_once)
    path = shared_dir / "data" / "badinput" / "synthetic" / "deals_mixed_dates_amounts.csv"
    with pytest.raises(ValidationError) as caught:
        prepare_import(path, table="deals")
    details = "\n".join(caught.value.details)
    for row, column, value in ((7, "amount", "-"), (8, "amount", "12k"), (10, "amount", "NaN"),
                               (7, "close_date", "2024-02-30"), (9, "close_date", "Q3 2024")):
        assert f"row {row}, column {column!r}: {value!r}" in details, details
    assert "1,234.56" not in details and "(500)" not in details  # those parse


# ----------------------------------------------------------------------------------------- mapping

MAPPING = """
name = "Test CRM"
date_formats = ["%d/%m/%Y %H:%M", "%d/%m/%Y"]

[[file]]
table = "leads"
match = ["Record ID", "Lifecycle Stage"]
[file.columns]
"Record ID" = "lead_id"
"First Name" = "first_name"
"Last Name" = "last_name"
"E-mail" = "email"
"Lifecycle Stage" = "lifecycle_stage"
"Original Source" = "source"
"Create Date" = "created_at"
[file.constants]
owner = "Inbound team"
[file.values.source]
paid_search = "Paid search"
organic_search = "Organic search"
[[file.stage_dates]]
column = "Became a Marketing Qualified Lead Date"
stage = "marketing qualified lead"
[[file.stage_dates]]
column = "Became a Customer Date"
stage = "customer"
"""

CRM_HEADER = ["Record ID", "First Name", "Last Name", "E-mail", "Lifecycle Stage", "Original Source", "Create Date",
              "Became a Marketing Qualified Lead Date", "Became a Customer Date", "Favourite Colour"]
CRM_ROWS = [
    ["101", "Ada", "Lovelace", "ada@example.com", "marketingqualifiedlead", "PAID_SEARCH", "04/03/2024 09:15",
     "05/03/2024 10:00", "", "teal"],
    ["102", "Bo", "Sample", "bo@example.com", "customer", "organic_search", "01/02/2024", "02/02/2024",
     "20/02/2024 16:30", ""],
    ["103", "Chi", "", "chi@example.com", "lead", "Referral", "06/03/2024 08:00", "", "", "red"],
]


@pytest.fixture(scope="module")
def crm_import(tmp_path_factory):
    folder = tmp_path_factory.mktemp("crm")
    (folder / "test_crm.toml").write_text(MAPPING, encoding="utf-8")
    path = write_csv(folder / "contacts.csv", [CRM_HEADER, *CRM_ROWS])
    mapping = load_mapping(folder / "test_crm.toml")
    return folder, mapping, prepare_import(path, mapping=mapping)


def test_a_mapping_renames_maps_values_adds_constants_and_derives_stage_events(crm_import):
    _, _, prepared = crm_import
    assert prepared.table == "leads" and prepared.mapping_name == "Test CRM"
    leads = prepared.frame.sort("lead_id")
    assert leads.get_column("lead_id").to_list() == ["101", "102", "103"]
    assert leads.get_column("name").to_list() == ["Ada Lovelace", "Bo Sample", "Chi"]
    assert leads.get_column("email").to_list() == ["ada@example.com", "bo@example.com", "chi@example.com"]
    assert leads.get_column("lifecycle_stage").to_list() == ["mql", "customer", "lead"]
    assert leads.get_column("source").to_list() == ["Paid search", "Organic search", "Referral"]
    assert leads.get_column("owner").to_list() == ["Inbound team"] * 3
    assert leads.get_column("created_at").to_list() == [datetime(2024, 3, 4, 9, 15), datetime(2024, 2, 1),
                                                         datetime(2024, 3, 6, 8)]
    assert prepared.unmapped == ["Favourite Colour"]
    events = prepared.derived["stage_events"].sort("lead_id", "entered_at")
    assert events.select("lead_id", "ladder", "stage", "entered_at").rows() == [
        ("101", "lifecycle", "mql", datetime(2024, 3, 5, 10)),
        ("102", "lifecycle", "mql", datetime(2024, 2, 2)),
        ("102", "lifecycle", "customer", datetime(2024, 2, 20, 16, 30)),
    ]


def test_mapped_import_is_stored(crm_import):
    _, _, prepared = crm_import
    con = memory_connection()
    result = write_import(con, prepared)
    assert (result.added, result.updated, result.unchanged) == (3, 0, 0)
    assert "stage_events: 3 added" in result.derived
    assert table_counts(con)["stage_events"] == 3
    colour = scalar(con, "SELECT attributes['Favourite Colour'] FROM leads WHERE lead_id = '101'")
    assert colour in ("teal", ["teal"])
    assert scalar(con, "SELECT mapping FROM imports") == "Test CRM"


def test_a_bad_date_in_a_mapped_file_names_row_column_and_value(crm_import):
    folder, mapping, _ = crm_import
    rows = [list(r) for r in CRM_ROWS]
    rows[1][6] = "31/02/2024 10:00"
    path = write_csv(folder / "contacts_bad_date.csv", [CRM_HEADER, *rows])
    with pytest.raises(ValidationError) as caught:
        prepare_import(path, mapping=mapping)
    assert (caught.value.row, caught.value.column, caught.value.value) == (3, "Create Date", "31/02/2024 10:00")
    rows[1][6], rows[2][8] = "01/02/2024", "someday"
    path = write_csv(folder / "contacts_bad_stage_date.csv", [CRM_HEADER, *rows])
    with pytest.raises(ValidationError) as caught:
        prepare_import(path, mapping=mapping)
    assert (caught.value.row, caught.value.column, caught.value.value) == (4, "Became a Customer Date", "someday")


# ------------------------------------------------------------------------------ updates and removal

LEADS_A = [["lead_id", "email", "title", "created_at"],
           ["L1", "a@example.com", "CEO", "2024-01-01"],
           ["L2", "b@example.com", "CTO", "2024-01-02"],
           ["L3", "c@example.com", "VP Sales", "2024-01-03"]]
LEADS_B = [LEADS_A[0], LEADS_A[1], ["L2", "b@example.com", "Chief Technology Officer", "2024-01-02"], LEADS_A[3],
           ["L4", "d@example.com", "Intern", "2024-01-04"]]
LEADS_C = [LEADS_A[0], ["L2", "b@example.com", "Founder", "2024-01-02"], ["L4", "d@example.com", "Analyst", "2024-01-04"]]


@pytest.fixture(scope="module")
def versions(tmp_path_factory) -> dict[str, importer.PreparedImport]:
    folder = tmp_path_factory.mktemp("versions")
    return {name: prepare_import(write_csv(folder / f"leads_{name}.csv", rows))
            for name, rows in (("A", LEADS_A), ("B", LEADS_B), ("C", LEADS_C))}


def titles(con) -> dict[str, str]:
    return dict(con.execute("SELECT lead_id, title FROM leads").fetchall())


def test_reimporting_an_identical_file_changes_nothing(versions, tmp_path):
    con = memory_connection()
    first = write_import(con, versions["A"])
    before = snapshot(con)
    again = write_import(con, prepare_import(write_csv(tmp_path / "leads_A.csv", LEADS_A)))
    assert again.status == "unchanged" and again.import_id == first.import_id
    assert "nothing changed" in again.summary()
    assert snapshot(con) == before


def test_a_newer_export_updates_rows_by_key_and_counts_exactly(versions):
    con = memory_connection()
    write_import(con, versions["A"])
    result = write_import(con, versions["B"])
    assert (result.status, result.rows, result.added, result.updated, result.unchanged) == ("imported", 4, 1, 1, 2)
    assert titles(con) == {"L1": "CEO", "L2": "Chief Technology Officer", "L3": "VP Sales", "L4": "Intern"}
    assert con.execute("SELECT lead_id, title FROM raw.leads__history").fetchall() == [("L2", "CTO")]
    assert "(1 added, 1 updated, 2 unchanged)" in result.summary()


def test_removing_an_import_restores_the_versions_it_replaced(versions):
    con = memory_connection()
    ids = {name: write_import(con, versions[name]).import_id for name in "ABC"}
    assert titles(con) == {"L1": "CEO", "L2": "Founder", "L3": "VP Sales", "L4": "Analyst"}
    remove_import(con, ids["B"])
    assert titles(con) == {"L1": "CEO", "L2": "Founder", "L3": "VP Sales", "L4": "Analyst"}  # C's versions stay
    remove_import(con, ids["C"])
    assert titles(con) == {"L1": "CEO", "L2": "CTO", "L3": "VP Sales"}  # A's versions; L4 came with B
    assert scalar(con, "SELECT count(*) FROM raw.leads__history") == 0
    history = import_history(con)
    assert history.filter(pl.col("removed_at").is_not_null()).get_column("import_id").sort().to_list() == \
        sorted([ids["B"], ids["C"]])
    remove_import(con, ids["A"])
    assert table_counts(con)["leads"] == 0
    with pytest.raises(StoreError):
        remove_import(con, ids["A"])
    with pytest.raises(StoreError):
        remove_import(con, 999)


def test_removing_the_latest_import_restores_the_previous_one(versions):
    con = memory_connection()
    write_import(con, versions["A"])
    b = write_import(con, versions["B"])
    remove_import(con, b.import_id)
    assert titles(con) == {"L1": "CEO", "L2": "CTO", "L3": "VP Sales"}
    again = write_import(con, versions["B"])  # a removed import may be imported again
    assert again.status == "imported" and (again.added, again.updated, again.unchanged) == (1, 1, 2)


def test_duplicate_keys_fail_naming_the_rows(tmp_path):
    path = write_csv(tmp_path / "dupes.csv", [LEADS_A[0], LEADS_A[1], LEADS_A[2], ["L1", "x@example.com", "", ""],
                                              LEADS_A[3], ["L1", "y@example.com", "", ""]])
    with pytest.raises(ValidationError) as caught:
        prepare_import(path)
    exc = caught.value
    assert exc.row == 2 and exc.column == "lead_id" and exc.value == "L1"
    assert "3 rows share a key" in exc.reason
    assert exc.details == ["row 2", "row 4", "row 6"]


def test_missing_required_column_and_empty_key_are_named():
    with pytest.raises(ValidationError) as caught:
        imported({"email": ["a@example.com"]}, "leads")
    assert caught.value.column == "lead_id" and "no lead_id column" in caught.value.reason
    with pytest.raises(ValidationError) as caught:
        imported({"lead_id": ["L-1", " ", "L-3"]}, "leads")
    assert (caught.value.row, caught.value.column) == (3, "lead_id")


def test_injection_in_headers_and_values_is_stored_verbatim(shared_dir, parse_once, monkeypatch):
    imports_in_process(monkeypatch, parse_once)
    path = shared_dir / "data" / "badinput" / "synthetic" / "leads_sql_path_injection.csv"
    leak_before = Path("/tmp/leak.csv").exists()
    con = memory_connection()
    result = write_import(con, prepare_import(path))
    assert (result.table, result.added) == ("leads", 7)
    tables_before = snapshot(con).keys()
    with open(path, newline="", encoding="utf-8") as fh:
        source = list(csv.DictReader(fh))
    stored = {r[0]: r for r in con.execute(
        "SELECT lead_id, email, company, attributes FROM leads ORDER BY lead_id").fetchall()}
    sql_header, file_header = 'name"; DROP TABLE leads; --', "read_csv('/etc/passwd')"
    for row in source:
        _, email, company, attributes = stored[row["lead_id"]]
        assert (email, company) == (row["email"], row["company"])
        assert attributes[sql_header] == row[sql_header]
        assert attributes[file_header] == "x"
    assert stored["L-2003"][3][sql_header] == "x'); COPY (SELECT * FROM leads) TO '/tmp/leak.csv'; --"
    assert snapshot(con).keys() == tables_before and table_counts(con)["leads"] == 7
    assert Path("/tmp/leak.csv").exists() == leak_before


# ----------------------------------------------------------------------------------------- atomicity


def test_a_failure_inside_write_import_rolls_everything_back(crm_import, versions, monkeypatch):
    _, _, prepared = crm_import  # leads plus derived stage_events: two upserts
    con = memory_connection()
    write_import(con, versions["A"])
    before = snapshot(con)
    real_upsert = importer.upsert
    calls = []

    def failing_upsert(con, spec, frame, import_id):
        calls.append(spec.name)
        if len(calls) > 1:
            raise RuntimeError("disk full (simulated)")
        return real_upsert(con, spec, frame, import_id)

    monkeypatch.setattr(importer, "upsert", failing_upsert)
    with pytest.raises(RuntimeError):
        write_import(con, prepared)
    assert calls == ["leads", "stage_events"]
    assert snapshot(con) == before
    assert scalar(con, f"SELECT count(*) FROM {IMPORTS}") == 1
    monkeypatch.setattr(importer, "upsert", real_upsert)
    assert write_import(con, prepared).added == 3  # the connection is usable again


CORPUS_MANIFEST = Path(os.environ.get("FUNNEL_SHARED") or Path(__file__).resolve().parents[2] / "shared") \
    / "data" / "badinput" / "MANIFEST.csv"


def corpus_rows() -> list[dict[str, str]]:
    if not CORPUS_MANIFEST.is_file():
        return []
    with open(CORPUS_MANIFEST, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


CORPUS = corpus_rows()
REFUSED_CLASSES = ("REJECT_FILE", "REJECT_ROWS")  # files the import must never take


@pytest.fixture(scope="module")
def baseline_db(shared_dir, parse_once, tmp_path_factory) -> Path:
    """A closed database holding synthetic/leads_clean_baseline.csv, imported by the real CLI."""
    badinput = shared_dir / "data" / "badinput"
    parse_once.prefetch([badinput / row["path"] for row in CORPUS])
    path = tmp_path_factory.mktemp("baseline") / "funnel.duckdb"
    assert cli.main(["import", "--db", str(path), str(badinput / "synthetic" / "leads_clean_baseline.csv")]) == 0
    return path


@pytest.mark.parametrize("row", CORPUS or [None], ids=[r["path"] for r in CORPUS] or ["corpus-absent"])
def test_a_failed_import_leaves_the_database_byte_for_byte_unchanged(row, baseline_db, shared_dir, parse_once,
                                                                    tmp_path, monkeypatch, capsys):
    if row is None:
        pytest.skip("bad-input manifest not found")
    imports_in_process(monkeypatch, parse_once)
    db = tmp_path / "funnel.duckdb"
    shutil.copy(baseline_db, db)
    before = sha256(db)
    path = shared_dir / "data" / "badinput" / row["path"]
    capsys.readouterr()
    code = cli.main(["import", "--db", str(db), str(path)])
    out, err = capsys.readouterr()
    if code == 0:
        assert row["expected"] not in REFUSED_CLASSES, f"{row['path']} ({row['expected']}) was imported: {out}"
        assert err == ""
        return
    assert code == 2, err
    assert sha256(db) == before, f"{row['path']} failed but changed the database"
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and err.endswith("\n"), err
    assert lines[0].startswith(f"funnel import: {path.name}"), lines[0]
    assert "Traceback" not in err and str(path.parent) not in err
    assert len(lines[0]) < 700, lines[0]


def test_a_worker_error_reaches_the_cli_as_one_line(baseline_db, shared_dir, tmp_path, capsys):
    """End to end, without the parse memo: a refused upload, through the real worker and CLI."""
    db = tmp_path / "funnel.duckdb"
    shutil.copy(baseline_db, db)
    before = sha256(db)
    capsys.readouterr()
    code = cli.main(["import", "--db", str(db), str(shared_dir / "data" / "badinput" / "synthetic" /
                                                     "png_header_named.csv")])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err == ("funnel import: png_header_named.csv: the file is a PNG image, not a data export. "
                   "Upload a CSV, XLSX or Parquet export\n")
    assert sha256(db) == before


def test_one_bad_file_among_good_ones_imports_nothing(baseline_db, shared_dir, parse_once, tmp_path, monkeypatch,
                                                      capsys):
    imports_in_process(monkeypatch, parse_once)
    db = tmp_path / "funnel.duckdb"
    shutil.copy(baseline_db, db)
    before = sha256(db)
    synthetic = shared_dir / "data" / "badinput" / "synthetic"
    code = cli.main(["import", "--db", str(db), str(synthetic / "leads_formula_injection.csv"),
                     str(synthetic / "leads_duplicates_emails.csv")])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and "leads_duplicates_emails.csv" in err
    assert sha256(db) == before
    con = connect(db, read_only=True)
    try:
        assert table_counts(con)["leads"] == 3
        assert scalar(con, f"SELECT count(*) FROM {IMPORTS}") == 1
    finally:
        con.close()


def test_unknown_table_and_unrecognised_files_are_mapping_errors(tmp_path):
    path = write_csv(tmp_path / "plain.csv", [["colour", "size"], ["red", "L"]])
    with pytest.raises(MappingError) as caught:
        prepare_import(path)
    assert "cannot tell which table" in caught.value.reason and "colour, size" in caught.value.reason
    with pytest.raises(MappingError):
        prepare_import(path, table="nosuch")
    assert issubclass(MappingError, FunnelError)


def entries_cell_by_cell(frame: pl.DataFrame, unmapped: list[str]) -> list:
    """The attribute lists as they were first built: a {key, value} struct per cell, each row's list filtered."""
    entries = [pl.struct(pl.lit(h).alias("key"), pl.col(h).cast(pl.String).str.strip_chars().alias("value"))
               for h in unmapped]
    return frame.select(pl.concat_list(entries).list.filter(
        pl.element().struct.field("value").is_not_null() & (pl.element().struct.field("value") != ""))).to_series().to_list()


CELLS = st.one_of(st.none(), st.sampled_from(["", " ", "a", " b ", "0", "row", "\t"]), st.text(max_size=4))
HEADERS = st.lists(st.sampled_from(["Lead Origin", "row", "col", "0", "1", "key", "value", "Tags", "Score"]),
                   min_size=1, max_size=6, unique=True)


@given(HEADERS.flatmap(lambda headers: st.tuples(
    st.just(headers), st.lists(st.tuples(*[CELLS] * len(headers)), max_size=8),
    st.lists(st.sampled_from(headers), unique=True))))
def test_attributes_keep_every_filled_unmapped_cell_in_column_order(case):
    headers, rows, unmapped = case
    frame = pl.DataFrame(rows, schema={h: pl.String for h in headers}, orient="row")
    kept = attribute_entries(frame, unmapped)
    assert kept.name == "attributes" and kept.len() == frame.height
    if unmapped:
        assert kept.to_list() == entries_cell_by_cell(frame, unmapped)
    else:
        assert kept.null_count() == frame.height


def test_attributes_of_numbers_are_their_text_and_a_row_without_any_has_an_empty_list():
    frame = pl.DataFrame({"Score": [3, None], "Tags": [" hot ", "  "]})
    assert attribute_entries(frame, ["Tags", "Score"]).to_list() == [
        [{"key": "Tags", "value": "hot"}, {"key": "Score", "value": "3"}], []]
