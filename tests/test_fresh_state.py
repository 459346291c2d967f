"""The dashboard shows the store as it is after every action, and the as-of date follows the data in view.

Fresh state: an import or a removal on the Data page shows in the same run on that page and in the sidebar,
without opening another page. As of: the default is the newest day of the database in view; a date outside
its data is moved into it with a plain note; another database starts at its own newest day."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime

import polars as pl

from funnel.filters import as_of_within
from funnel.store.db import connect
from funnel.store.inventory import data_days
from funnel.store.status import import_labels
from tests.apptest import ROOT, app

LEADS = ROOT / "sample_data" / "leads.csv"


def sidebar_texts(at) -> list[str]:
    return [t.value for t in at.sidebar.text] + [c.value for c in at.sidebar.caption]


def leads_rows(at) -> int:
    inventory = at.dataframe[0].value
    return int(inventory.loc[inventory["table"] == "leads", "rows"].iloc[0])


def test_an_import_shows_at_once_on_the_data_page_and_in_the_sidebar(tmp_path, monkeypatch):
    at = app(tmp_path / "fresh.duckdb", monkeypatch, sample=False)
    at.run()
    at.switch_page("pages/data.py").run()
    assert any("No data yet" in t for t in sidebar_texts(at))
    assert leads_rows(at) == 0
    at.file_uploader(key="export_files_0").upload("leads.csv", LEADS.read_bytes(), "text/csv")
    at.run()
    at.button(key="import_button").click().run()
    assert not at.exception
    assert leads_rows(at) == 3000
    assert not any("No data yet" in t for t in sidebar_texts(at))
    assert any("3,000 rows" in t for t in sidebar_texts(at))
    assert any("leads.csv" in t.value for t in at.text), "the import's result is shown after the refresh"
    assert [u.key for u in at.file_uploader if u.key.startswith("export_files")] == ["export_files_1"]


def test_a_removal_shows_at_once_and_lists_imports_by_file_table_rows_and_date(tmp_path, monkeypatch):
    at = app(tmp_path / "remove.duckdb", monkeypatch, sample=True)
    at.run()
    at.switch_page("pages/data.py").run()
    labels = at.selectbox(key="remove_choice").options
    assert any("leads.csv → leads · 3,000 rows · imported " in label for label in labels), labels
    leads_import = next(int(o.split()[0].lstrip("#")) for o in labels if "leads.csv" in o)
    at.selectbox(key="remove_choice").select(leads_import).run()
    at.button(key="remove_button").click().run()
    assert not at.exception
    assert leads_rows(at) == 0
    assert not any("3,000 rows · imported" in o for o in at.selectbox(key="remove_choice").options)


def one_lead_store(path, created: str):
    con = connect(path)
    try:
        frame = pl.DataFrame({"lead_id": ["L1"], "created_at": [created]},
                             schema={"lead_id": pl.String, "created_at": pl.String})
        con.register("incoming", frame.to_arrow())
        con.execute("INSERT INTO leads (lead_id, created_at) SELECT lead_id, created_at::TIMESTAMP FROM incoming")
    finally:
        con.close()


def test_the_as_of_date_is_the_newest_day_of_the_database_in_view(tmp_path, monkeypatch):
    one_lead_store(tmp_path / "2018.duckdb", "2018-10-17 09:30:00")
    at = app(tmp_path / "2018.duckdb", monkeypatch, sample=False)
    at.run()
    assert at.sidebar.date_input(key="as_of").value == date(2018, 10, 17)


def test_a_date_outside_the_data_is_moved_into_it_with_a_note(tmp_path, monkeypatch):
    one_lead_store(tmp_path / "2018.duckdb", "2018-01-05 09:30:00")
    one_lead_store(tmp_path / "2018.duckdb", "2018-10-17 09:30:00")
    at = app(tmp_path / "2018.duckdb", monkeypatch, sample=False)
    at.run()
    at.run()  # the first run is routed to the default page; widgets keep their state from the second
    at.sidebar.date_input(key="as_of").set_value(date(2026, 10, 31)).run()
    assert not at.exception
    assert at.session_state["_filters"].as_of == date(2018, 10, 17)
    assert any(t.value == "The as-of date 2026-10-31 is after the newest data (2018-10-17): the numbers are as "
               "of 2018-10-17." for t in at.sidebar.text)
    at.sidebar.date_input(key="as_of").set_value(date(2001, 1, 1)).run()
    assert at.session_state["_filters"].as_of == date(2018, 1, 5)
    assert any("before the oldest data (2018-01-05)" in t.value for t in at.sidebar.text)
    at.sidebar.date_input(key="as_of").set_value(date(2018, 6, 30)).run()
    assert at.session_state["_filters"].as_of == date(2018, 6, 30)
    assert not any("oldest data" in t.value or "newest data" in t.value for t in at.sidebar.text)


def test_another_database_resets_the_as_of_date_to_its_own_newest_day(tmp_path, monkeypatch):
    one_lead_store(tmp_path / "2026.duckdb", "2026-10-31 10:00:00")
    one_lead_store(tmp_path / "2018.duckdb", "2018-01-05 10:00:00")
    one_lead_store(tmp_path / "2018.duckdb", "2018-10-17 10:00:00")
    at = app(tmp_path / "2026.duckdb", monkeypatch, sample=False)
    at.run()
    assert at.sidebar.date_input(key="as_of").value == date(2026, 10, 31)
    at.run()  # the first run is routed to the default page; widgets keep their state from the second
    at.sidebar.selectbox(key="db").select("2018").run()  # the data folder's databases, by name
    assert not at.exception
    assert at.sidebar.date_input(key="as_of").value == date(2018, 10, 17)
    assert at.session_state["_filters"].as_of == date(2018, 10, 17)
    at.sidebar.date_input(key="as_of").set_value(date(2018, 6, 30)).run()
    assert at.session_state["_filters"].as_of == date(2018, 6, 30), "a date inside the data is kept"


def test_as_of_within_moves_a_day_into_the_data_and_says_so():
    first, last = date(2018, 1, 5), date(2018, 10, 17)
    assert as_of_within(date(2018, 6, 30), first=first, last=last) == (date(2018, 6, 30), None)
    assert as_of_within(last, first=first, last=last) == (last, None)
    assert as_of_within(first, first=first, last=last) == (first, None)
    day, note = as_of_within(date(2026, 10, 31), first=first, last=last)
    assert day == last and "after the newest data (2018-10-17)" in note
    day, note = as_of_within(date(2018, 1, 4), first=first, last=last)
    assert day == first and "before the oldest data (2018-01-05)" in note


def test_data_days_span_every_table_and_end_at_the_newest_timestamp():
    inventory = pl.DataFrame({"table": ["leads", "accounts", "deals"], "rows": [2, 1, 1],
                              "first": [datetime(2018, 3, 1, 8), None, datetime(2017, 12, 30, 23)],
                              "last": [datetime(2018, 10, 1), None, datetime(2018, 9, 1)]})
    assert data_days(inventory, datetime(2018, 10, 17, 9, 30)) == (date(2017, 12, 30), date(2018, 10, 17))
    assert data_days(inventory, None) is None
    undated = inventory.with_columns(pl.lit(None, dtype=pl.Datetime("us")).alias("first"))
    assert data_days(undated, datetime(2018, 10, 17)) == (date(2018, 10, 17), date(2018, 10, 17))


def test_import_labels_name_file_table_rows_and_day():
    history = pl.DataFrame({"import_id": [7, 6], "file_name": ["olist_deals.csv", "leads.csv"],
                            "table_name": ["deals", "leads"], "rows": [842, 12000],
                            "imported_at": [datetime(2026, 12, 5, 10, 1), None]})
    assert import_labels(history) == {7: "#7 olist_deals.csv → deals · 842 rows · imported 2026-12-05",
                                      6: "#6 leads.csv → leads · 12,000 rows"}


def funnel_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "funnel.cli", *args], capture_output=True, text=True, timeout=300, check=False,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_read_only_commands_run_while_the_dashboard_is_open(tmp_path, monkeypatch):
    """The dashboard (this process) holds only a read-only connection between writes, so another process can
    read the same database file; after the dashboard writes, it holds no write lock either."""
    db = tmp_path / "open.duckdb"
    at = app(db, monkeypatch, sample=True)
    at.run()
    at.switch_page("pages/overview.py").run()
    assert not at.exception
    info = funnel_cli("info", "--db", str(db))
    assert info.returncode == 0, info.stderr
    assert "leads" in info.stdout
    at.switch_page("pages/data.py").run()
    at.selectbox(key="remove_choice").select(5)
    at.button(key="remove_button").click().run()
    assert not at.exception
    metrics = funnel_cli("metrics", "--db", str(db), "--format", "csv")
    assert metrics.returncode == 0, metrics.stderr
    assert "\"section\"" in metrics.stdout.splitlines()[0]


def test_a_write_waits_for_the_sessions_reading_and_reads_wait_for_a_write():
    import threading
    import time

    from pages.ui.store import ReadersWriterGate

    gate, order = ReadersWriterGate(), []
    reading, release = threading.Event(), threading.Event()

    def reader():
        with gate.reading():
            order.append("read starts")
            reading.set()
            release.wait(5)
            order.append("read ends")

    def writer():
        reading.wait(5)
        with gate.writing():
            order.append("write")

    threads = [threading.Thread(target=reader), threading.Thread(target=writer)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    with gate.reading():  # a second reader is not held up by the waiting writer
        order.append("second read")
    release.set()
    for thread in threads:
        thread.join(5)
    assert order == ["read starts", "second read", "read ends", "write"]
