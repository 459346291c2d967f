"""The three public datasets import through their mappings in sample_data/mappings/ and give the
figures computed here independently from the raw CSV files with plain Python.

The data lives outside the repository: /work/shared/data/real (next to the checkout), or
$FUNNEL_SHARED/data/real. Each test is skipped, saying why, when its dataset is absent.
"""

from __future__ import annotations

import csv
import os
from collections import Counter, defaultdict
from datetime import datetime
from functools import partial
from pathlib import Path

import pytest

import funnel.ingest.importer as importer_module
from funnel.cli.main import main
from funnel.ingest.importer import prepare_import, write_import
from funnel.ingest.mapping import load_mapping
from funnel.ingest.readers import read_export
from funnel.model.identity import rebuild_identity
from funnel.store.db import memory_connection

ROOT = Path(__file__).resolve().parents[1]
MAPPINGS = ROOT / "sample_data" / "mappings"
SHARED = Path(os.environ.get("FUNNEL_SHARED") or Path(__file__).resolve().parents[2] / "shared")
REAL = SHARED / "data" / "real"
OLIST = REAL / "olist-marketing-funnel"
MAVEN = REAL / "maven-crm-sales-opportunities"
XED = REAL / "x-education-lead-scoring"
OLIST_FILES = [OLIST / "olist_marketing_qualified_leads_dataset.csv", OLIST / "olist_closed_deals_dataset.csv"]
MAVEN_FILES = [MAVEN / "sales_pipeline.csv", MAVEN / "accounts.csv"]
XED_FILES = [XED / "Leads.csv"]


def needs(files: list[Path]):
    missing = [str(f) for f in files if not f.is_file()]
    return pytest.mark.skipif(bool(missing), reason=f"real dataset not available: {', '.join(missing)} "
                                                    "(set FUNNEL_SHARED to the folder holding data/real)")


def raw(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def scalar(con, sql: str, params=None):
    return con.execute(sql, params or []).fetchone()[0]


def pairs(con, sql: str) -> dict:
    return dict(con.execute(sql).fetchall())


def prepared(path: Path, mapping):
    """The file prepared through the mapping, read in-process: the files are trusted, and a worker
    costs a Python start per file (the CLI test below goes through the worker)."""
    def read(path, *, name=None, sheet=None, header_row=None, **_):
        return read_export(Path(path), name=name or Path(path).name, sheet=sheet, header_row=header_row)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("funnel.ingest.importer.prepared_in_worker", partial(importer_module.prepared_here, parse=read))
        return prepare_import(path, mapping=mapping)


def imported(mapping_name: str, files: list[Path]):
    """A fresh in-memory store with the files imported through the mapping."""
    con = memory_connection()
    mapping = load_mapping(MAPPINGS / mapping_name)
    results = [write_import(con, prepared(f, mapping)) for f in files]
    rebuild_identity(con)
    return con, mapping, results


def assert_reimport_changes_nothing(con, mapping, files: list[Path]) -> None:
    tables = ("leads", "accounts", "deals", "stage_events", "activities")
    before = {t: scalar(con, f"SELECT count(*) FROM {t}") for t in tables}
    imports = scalar(con, "SELECT count(*) FROM imports")
    for f in files:
        again = write_import(con, prepared(f, mapping))
        assert again.status == "unchanged", again.summary()
        assert "nothing changed" in again.summary()
    assert {t: scalar(con, f"SELECT count(*) FROM {t}") for t in tables} == before
    assert scalar(con, "SELECT count(*) FROM imports") == imports


# ------------------------------------------------------------------------------------------- Olist
@pytest.fixture(scope="module")
def olist():
    return imported("olist.toml", OLIST_FILES)


@needs(OLIST_FILES)
def test_olist_counts(olist):
    con, _, results = olist
    assert [(r.table, r.rows, r.added) for r in results] == [("leads", 8000, 8000), ("deals", 842, 842)]
    assert scalar(con, "SELECT count(*) FROM leads") == 8000
    assert scalar(con, "SELECT count(*) FROM deals WHERE won") == 842
    assert scalar(con, "SELECT count(*) FROM deals WHERE won IS DISTINCT FROM true") == 0
    assert pairs(con, "SELECT stage, count(*) FROM stage_events GROUP BY 1") == {"mql": 8000, "customer": 842}
    assert scalar(con, "SELECT count(*) FROM deals d ANTI JOIN leads l USING (lead_id)") == 0  # all deals join


@needs(OLIST_FILES)
def test_olist_won_leads_by_origin_match_the_raw_files(olist):
    con, _, _ = olist
    mqls = raw(OLIST_FILES[0])
    origin = {r["mql_id"]: (r["origin"] or None) for r in mqls}
    leads_by_origin = Counter(origin.values())
    won_by_origin = Counter(origin[d["mql_id"]] for d in raw(OLIST_FILES[1]))
    top = [o for o, _ in won_by_origin.most_common(5)]
    assert top[0] == "organic_search"
    db_won = pairs(con, "SELECT l.source, count(*) FROM deals d JOIN leads l USING (lead_id) WHERE d.won GROUP BY 1")
    db_leads = pairs(con, "SELECT source, count(*) FROM leads GROUP BY 1")
    for o in top:
        assert db_won[o] == won_by_origin[o]
        assert db_leads[o] == leads_by_origin[o]
    assert db_leads[None] == 60 and db_leads["unknown"] == 1099  # empty and "unknown" stay apart
    assert sum(db_won.values()) == 842


@needs(OLIST_FILES)
def test_olist_dates_owners_and_attributes(olist):
    con, _, _ = olist
    first = raw(OLIST_FILES[1])[0]
    row = con.execute("SELECT deal_id, lead_id, closed_at, owner, attributes['business_segment'], "
                      "attributes['seller_id'], attributes['lead_type'] FROM deals WHERE deal_id = ?",
                      [first["mql_id"]]).fetchone()
    assert row == (first["mql_id"], first["mql_id"], datetime.fromisoformat(first["won_date"]), first["sr_id"],
                   first["business_segment"], first["seller_id"], first["lead_type"])
    entered = scalar(con, "SELECT entered_at FROM stage_events WHERE lead_id = ? AND stage = 'customer'",
                     [first["mql_id"]])
    assert entered == datetime.fromisoformat(first["won_date"])
    assert scalar(con, "SELECT count(*) FROM leads WHERE attributes['landing_page_id'] IS NOT NULL") == 8000
    # the known quirk survives the import: one deal won before its first contact
    early = con.execute("SELECT d.deal_id FROM deals d JOIN leads l USING (lead_id) "
                        "WHERE d.closed_at < l.created_at").fetchall()
    assert early == [("b91cf8812365f50ff4bda4bcd6206b05",)]


@needs(OLIST_FILES)
def test_olist_second_import_changes_nothing(olist):
    con, mapping, _ = olist
    assert_reimport_changes_nothing(con, mapping, OLIST_FILES)


@needs(OLIST_FILES)
def test_olist_imports_with_the_cli_in_one_step(tmp_path, capsys):
    db = tmp_path / "olist.duckdb"
    argv = ["import", "--db", str(db), "--mapping", str(MAPPINGS / "olist.toml"), *map(str, OLIST_FILES)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "leads: 8000 rows (8000 added" in out and "stage_events: 8000 added" in out
    assert "deals: 842 rows (842 added" in out and "stage_events: 842 added" in out
    assert main(argv) == 0
    assert capsys.readouterr().out.count("nothing changed") == 2


# ------------------------------------------------------------------------------------------- Maven
@pytest.fixture(scope="module")
def maven():
    return imported("maven.toml", MAVEN_FILES)


@needs(MAVEN_FILES)
def test_maven_counts_and_outcomes(maven):
    con, _, results = maven
    assert [(r.table, r.rows) for r in results] == [("deals", 8800), ("accounts", 85)]
    stages = Counter(r["deal_stage"] for r in raw(MAVEN_FILES[0]))
    outcome = pairs(con, "SELECT coalesce(won::VARCHAR, 'open'), count(*) FROM deals GROUP BY 1")
    assert outcome == {"true": stages["Won"], "false": stages["Lost"],
                       "open": stages["Prospecting"] + stages["Engaging"]}
    assert outcome == {"true": 4238, "false": 2473, "open": 2089}
    won_value = sum(int(r["close_value"]) for r in raw(MAVEN_FILES[0]) if r["deal_stage"] == "Won")
    assert scalar(con, "SELECT sum(amount) FROM deals WHERE won") == won_value
    assert scalar(con, "SELECT count(*) FROM deals WHERE account_id IS NULL") == 1425


@needs(MAVEN_FILES)
def test_maven_win_rate_by_sector_matches_the_raw_files(maven):
    con, _, _ = maven
    fix = {"technolgy": "technology"}  # the mapping corrects this one typo
    sector = {a["account"]: fix.get(a["sector"], a["sector"]) for a in raw(MAVEN_FILES[1])}
    won, closed = Counter(), Counter()
    for d in raw(MAVEN_FILES[0]):
        if d["account"] and d["deal_stage"] in ("Won", "Lost"):
            closed[sector[d["account"]]] += 1
            won[sector[d["account"]]] += d["deal_stage"] == "Won"
    expected = {s: won[s] / closed[s] for s in closed}
    got = pairs(con, "SELECT a.industry, avg(d.won::INT) FROM deals d JOIN accounts a USING (account_id) "
                     "WHERE d.won IS NOT NULL GROUP BY 1")
    assert got.keys() == expected.keys() and len(got) == 10
    for s, rate in expected.items():
        assert got[s] == pytest.approx(rate)
    assert got["technology"] == pytest.approx(671 / (671 + 387))


@needs(MAVEN_FILES)
def test_maven_accounts_and_products(maven):
    con, _, _ = maven
    acme = con.execute("SELECT account_id, name, industry, annual_revenue, employees, country, "
                       "attributes['year_established'] FROM accounts WHERE account_id = 'Acme Corporation'").fetchone()
    assert acme == ("Acme Corporation", "Acme Corporation", "technology", 1100.04, 2822, "United States", "1996")
    assert scalar(con, "SELECT count(*) FROM accounts WHERE country = 'Philipines'") == 0
    gtx_pro = sum(r["product"] in ("GTXPro", "GTX Pro") for r in raw(MAVEN_FILES[0]))
    assert scalar(con, "SELECT count(*) FROM deals WHERE product = 'GTX Pro'") == gtx_pro == 1480
    products = {r["product"] for r in raw(MAVEN / "products.csv")}
    assert {p for (p,) in con.execute("SELECT DISTINCT product FROM deals").fetchall()} == products


@needs(MAVEN_FILES)
def test_maven_second_import_changes_nothing(maven):
    con, mapping, _ = maven
    assert_reimport_changes_nothing(con, mapping, MAVEN_FILES)


# ------------------------------------------------------------------------------------- X Education
@pytest.fixture(scope="module")
def xed():
    return imported("x_education.toml", XED_FILES)


@needs(XED_FILES)
def test_x_education_counts_and_lifecycle_from_converted(xed):
    con, _, results = xed
    assert results[0].rows == 9240
    rows = raw(XED_FILES[0])
    converted = sum(r["Converted"] == "1" for r in rows)
    assert converted == 3561
    assert pairs(con, "SELECT lifecycle_stage, count(*) FROM leads GROUP BY 1") == {
        "customer": converted, "lead": 9240 - converted}
    assert scalar(con, "SELECT count(*) FROM stage_events") == 0  # no dates: current stages only


@needs(XED_FILES)
def test_x_education_sources_select_and_the_trailing_column(xed):
    con, _, _ = xed
    rows = raw(XED_FILES[0])
    sources = Counter(("Google" if r["Lead Source"].lower() == "google" else r["Lead Source"]) or None for r in rows)
    assert pairs(con, "SELECT source, count(*) FROM leads GROUP BY 1") == dict(sources)
    assert scalar(con, "SELECT count(*) FROM leads WHERE list_contains(map_values(attributes), 'Select')") == 0
    city_answered = sum(r["City"] not in ("", "Select") for r in rows)
    assert scalar(con, "SELECT count(*) FROM leads WHERE attributes['City'] IS NOT NULL") == city_answered
    keys = {k for (k,) in con.execute("SELECT DISTINCT unnest(map_keys(attributes)) FROM leads").fetchall()}
    assert not any(k.startswith("column_") for k in keys)  # the trailing empty column is gone
    assert {"Lead Origin", "Tags", "Lead Quality", "Last Activity", "Lead Number"} <= keys


@needs(XED_FILES)
def test_x_education_conversion_by_lead_origin_matches_the_raw_file(xed):
    con, _, _ = xed
    total, conv = Counter(), Counter()
    for r in raw(XED_FILES[0]):
        total[r["Lead Origin"]] += 1
        conv[r["Lead Origin"]] += r["Converted"] == "1"
    got = {o: (n, c) for o, n, c in con.execute(
        "SELECT attributes['Lead Origin'], count(*), count(*) FILTER (WHERE lifecycle_stage = 'customer') "
        "FROM leads GROUP BY 1").fetchall()}
    assert got == {o: (total[o], conv[o]) for o in total}


@needs(XED_FILES)
def test_x_education_second_import_changes_nothing(xed):
    con, mapping, _ = xed
    assert_reimport_changes_nothing(con, mapping, XED_FILES)


def test_every_real_data_mapping_loads():
    for name in ("olist.toml", "maven.toml", "x_education.toml"):
        mapping = load_mapping(MAPPINGS / name)
        assert mapping.files and all(f.match for f in mapping.files)
    by_table = defaultdict(list)
    for f in load_mapping(MAPPINGS / "olist.toml").files:
        by_table[f.table].append(f)
    assert set(by_table) == {"leads", "deals"}


@needs(MAVEN_FILES)
def test_maven_deals_by_sector_on_the_segments_page_match_the_raw_files(maven):
    """The dashboard's deal view (deals belong to accounts here) gives the raw files' win rates per sector."""
    from datetime import date

    from funnel.analyses.deals import deal_performance
    from funnel.config import default_settings

    con, _, _ = maven
    fix = {"technolgy": "technology"}
    sector = {a["account"]: fix.get(a["sector"], a["sector"]) for a in raw(MAVEN_FILES[1])}
    won, closed = Counter(), Counter()
    for d in raw(MAVEN_FILES[0]):
        if d["account"] and d["deal_stage"] in ("Won", "Lost"):
            closed[sector[d["account"]]] += 1
            won[sector[d["account"]]] += d["deal_stage"] == "Won"
    cursor = con.cursor()  # the module's connection may hold another test's unread result
    table = deal_performance(cursor, settings=default_settings(), as_of=date(2017, 12, 31), by="industry")
    rows = {r["industry"]: r for r in table.iter_rows(named=True)}
    for name, trials in closed.items():
        assert rows[name]["closed"] == trials and rows[name]["won"] == won[name]
        assert rows[name]["win_rate"] == pytest.approx(won[name] / trials)
        assert rows[name]["win_rate_lo"] <= rows[name]["win_rate"] <= rows[name]["win_rate_hi"]
    # Open deals: the Engaging ones have an engage date; Prospecting ones have none and are left out of timing.
    engaging = sum(1 for d in raw(MAVEN_FILES[0]) if d["deal_stage"] == "Engaging")
    assert rows[None]["open_deals"] == engaging
