"""The CLI says what the pages say: `funnel deals` (deals by their account's attributes), `funnel metrics` on a
store without dates, `--by` by a plain name, one "(unknown)" segment, and the only-wins caveat."""

from __future__ import annotations

import json
from datetime import date, datetime

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from funnel import schema as sc
from funnel.analyses.deals import (
    deal_dimension_named,
    deal_performance,
    only_wins_note,
    segment_only_wins_note,
    undated_deals,
    undated_deals_text,
)
from funnel.analyses.report import UNDATED_NOTE, metrics_report
from funnel.cli.main import main
from funnel.config import default_settings
from funnel.errors import FunnelError
from funnel.filters import Filters
from funnel.model.history import UNKNOWN, dimension_named, lead_dimension_named, segment_text, segment_values
from funnel.store.db import connect
from tests.stores import store

AS_OF = date(2024, 6, 30)
ACCOUNTS = [{"account_id": "A", "industry": "Software", "employees": 120},
            {"account_id": "B", "industry": "Retail", "employees": 8000},
            {"account_id": "C", "industry": "n/a", "employees": 10}]
DEALS = [
    {"deal_id": "d1", "account_id": "A", "created_at": datetime(2024, 1, 1), "closed_at": datetime(2024, 1, 11),
     "won": True, "amount": 100.0},
    {"deal_id": "d2", "account_id": "A", "created_at": datetime(2024, 1, 1), "closed_at": datetime(2024, 1, 31),
     "won": False, "amount": 50.0},
    {"deal_id": "d3", "account_id": "A", "created_at": datetime(2024, 6, 20), "closed_at": None, "won": None},
    {"deal_id": "d4", "account_id": "B", "created_at": datetime(2024, 3, 1), "closed_at": datetime(2024, 3, 3),
     "won": True, "amount": 400.0},
    {"deal_id": "d5", "account_id": "C", "created_at": datetime(2024, 3, 1), "closed_at": datetime(2024, 3, 2),
     "won": True, "amount": 9.0},
]
# Custom account attributes as an export leaves them: a year, "unknown" spelt two ways, and one missing.
YEARS = {"A": "1999", "B": "unknown", "C": " (Unknown) "}


def with_account_attributes(con, values: dict[str, str], key: str = "Year Established"):
    for account, value in values.items():
        con.execute("UPDATE accounts SET attributes = map([$k], [$v]) WHERE account_id = $a",
                    {"k": key, "v": value, "a": account})
    return con


def deals_store():
    return with_account_attributes(store(accounts=ACCOUNTS, deals=DEALS), YEARS)


def file_store(path, **tables: list[dict]):
    """A database file holding the given rows (as tests.stores.store, on disk for the CLI)."""
    con = connect(path)
    for name, rows in tables.items():
        spec = sc.TABLES[name]
        columns = list(dict.fromkeys(c for row in rows for c in row))
        incoming = pl.DataFrame([{c: row.get(c) for c in columns} for row in rows],
                                schema={c: spec.column(c).dtype for c in columns}, orient="row")
        con.register("incoming", incoming.to_arrow())
        con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM incoming")
        con.unregister("incoming")
    return con


# ------------------------------------------------------------------------------------ deals by account


def test_deals_by_a_custom_account_attribute_given_by_its_plain_name():
    con = deals_store()
    by = deal_dimension_named(con, "year established")
    assert by == "attr:Year Established"
    table = deal_performance(con, settings=default_settings(), as_of=AS_OF, by=by)
    rows = {r[by]: r for r in table.iter_rows(named=True)}
    assert set(rows) == {None, "1999", UNKNOWN}, "unknown and (Unknown) are one segment"
    # 1999 = account A: d1 won, d2 lost, d3 open (10 days old at D). Unknown = B and C: d4 and d5 won.
    assert (rows["1999"]["deals"], rows["1999"]["closed"], rows["1999"]["won"], rows["1999"]["open_deals"]) \
        == (3, 2, 1, 1)
    assert rows["1999"]["win_rate"] == 0.5 and rows["1999"]["median_open_age_days"] == 10
    assert (rows[UNKNOWN]["deals"], rows[UNKNOWN]["closed"], rows[UNKNOWN]["won"]) == (2, 2, 2)
    assert rows[UNKNOWN]["won_amount"] == 409.0
    assert rows[None]["deals"] == rows["1999"]["deals"] + rows[UNKNOWN]["deals"]
    assert 0 <= rows["1999"]["win_rate_lo"] <= 0.5 <= rows["1999"]["win_rate_hi"] <= 1


def test_deals_by_industry_put_n_a_with_the_unknown():
    table = deal_performance(deals_store(), settings=default_settings(), as_of=AS_OF, by="industry")
    assert table.get_column("industry").to_list() == [None, UNKNOWN, "Retail", "Software"]


def test_deal_dimensions_by_name():
    con = deals_store()
    assert deal_dimension_named(con, "industry") == "industry"
    assert deal_dimension_named(con, "attr:Year Established") == "attr:Year Established"
    assert deal_dimension_named(con, "Year_Established") == "attr:Year Established"
    with pytest.raises(FunnelError, match="Year Established"):
        deal_dimension_named(con, "sector")


def test_only_wins_is_said_and_a_lost_deal_silences_it():
    only_wins = store(accounts=ACCOUNTS, deals=[d for d in DEALS if d["deal_id"] != "d2"])
    table = deal_performance(only_wins, settings=default_settings(), as_of=AS_OF, by="industry")
    assert "All 3 closed deals are won" in only_wins_note(table)
    table = deal_performance(deals_store(), settings=default_settings(), as_of=AS_OF, by="industry")
    assert only_wins_note(table) is None
    none_closed = deal_performance(deals_store(), settings=default_settings(), as_of=date(2024, 1, 5), by="industry")
    assert only_wins_note(none_closed) is None


def test_the_segment_table_of_an_only_wins_deals_file_says_so_too():
    """Olist's deals are undated (so the deals-by-account table is empty) but linked to leads: the segment
    table's win rate is 100% by construction and needs the same caveat."""
    from funnel.analyses.segments import segment_performance

    leads = [{"lead_id": f"L{i}", "source": "web" if i % 2 else "ads", "created_at": datetime(2024, 1, 1)}
             for i in range(4)]
    wins = [{"deal_id": f"w{i}", "lead_id": f"L{i}", "closed_at": datetime(2024, 3, 1), "won": True} for i in range(3)]
    lost = [{"deal_id": "x", "lead_id": "L3", "closed_at": datetime(2024, 3, 2), "won": False}]
    for deals, said in ((wins, True), (wins + lost, False)):
        table = segment_performance(store(leads=leads, deals=deals), Filters(as_of=AS_OF), settings=default_settings(),
                                    by="source")
        assert table.get_column("closed_deals")[0] == len(deals)
        note = segment_only_wins_note(table)
        assert ("All 3 closed deals are won" in note) if said else note is None


def test_deals_without_a_creation_date_are_counted_and_said():
    """Olist's closed-deals file has a won date and no created date: every deal is left out of deals by their
    account (existence at D and cycle length need it), and the table says so instead of showing nothing."""
    undated = [{**d, "created_at": None} for d in DEALS[:2]]
    con = store(accounts=ACCOUNTS, deals=[*undated, *DEALS[2:]])
    assert undated_deals(con) == 2
    table = deal_performance(con, settings=default_settings(), as_of=AS_OF, by="industry")
    assert table.get_column("deals")[0] == 3  # d3, d4, d5: the two undated deals are not in it
    assert undated_deals_text(2).startswith("2 deals have no creation date")
    assert undated_deals(deals_store()) == 0 and undated_deals_text(0) is None


def test_funnel_deals_prints_the_table_with_notes(tmp_path, capsys):
    db = tmp_path / "deals.duckdb"
    with_account_attributes(file_store(db, accounts=ACCOUNTS, deals=[d for d in DEALS if d["deal_id"] != "d2"]),
                            YEARS).close()
    assert main(["deals", "--db", str(db), "--by", "Year Established", "--as-of", "2024-06-30"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["by"] == "attr:Year Established" and document["as_of"] == "2024-06-30"
    assert [r["segment"] for r in document["deals"]] == [None, UNKNOWN, "1999"]
    assert document["deals"][0]["win_rate"] == 1.0 and "only wins" in document["notes"][0]
    assert main(["deals", "--db", str(db), "--format", "csv"]) == 0
    out = capsys.readouterr()
    assert out.out.lstrip("\ufeff").startswith('"industry","deals","closed","won","win_rate"')
    assert "only wins" in out.err
    undated = tmp_path / "undated.duckdb"
    file_store(undated, accounts=ACCOUNTS, deals=[{**DEALS[0], "created_at": None}, *DEALS[1:]]).close()
    assert main(["deals", "--db", str(undated), "--as-of", "2024-06-30"]) == 0
    assert any(n.startswith("1 deals have no creation date") for n in json.loads(capsys.readouterr().out)["notes"])
    assert main(["deals", "--db", str(db), "--by", "sector"]) == 2
    assert "Use one of: industry" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ metrics


LEADS = [{"lead_id": "L1", "source": "web", "lifecycle_stage": "customer"},
         {"lead_id": "L2", "source": "web", "lifecycle_stage": "lead"},
         {"lead_id": "L3", "source": "ads", "lifecycle_stage": "lead"},
         {"lead_id": "L4", "source": " N/A", "lifecycle_stage": "mql"}]
ORIGINS = {"L1": "API", "L2": "Lead Add Form", "L3": "API", "L4": "unknown"}


def with_lead_attributes(con, values: dict[str, str], key: str = "Lead Origin"):
    for lead, value in values.items():
        con.execute("UPDATE leads SET attributes = map([$k], [$v]) WHERE lead_id = $l", {"k": key, "v": value, "l": lead})
    return con


def test_metrics_on_a_store_without_dates_gives_the_undated_sections(tmp_path, capsys):
    db = tmp_path / "undated.duckdb"
    with_lead_attributes(file_store(db, leads=LEADS), ORIGINS).close()
    assert main(["metrics", "--db", str(db), "--by", "lead origin"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["as_of"] is None and report["period"] == {"from": None, "to": None}
    assert report["by"] == "attr:Lead Origin" and UNDATED_NOTE in report["notes"]
    assert report["conversion"] == [] and report["aging"] == []
    everyone = {r["stage"]: r["leads"] for r in report["distribution"] if r["segment"] is None}
    assert (everyone["lead"], everyone["mql"], everyone["customer"]) == (2, 1, 1)
    leads = {r["segment"]: r["leads"] for r in report["segments"]}
    assert leads == {None: 4, "API": 2, "Lead Add Form": 1, UNKNOWN: 1}
    api = next(r for r in report["segments"] if r["segment"] == "API")
    assert api["reached"]["customer"] == 1 and api["reached_rate"]["customer"] == 0.5
    assert main(["metrics", "--db", str(db), "--by", "attr:Lead Origin"]) == 0
    same = json.loads(capsys.readouterr().out)
    assert same["segments"] == report["segments"]
    assert main(["metrics", "--db", str(db), "--format", "csv"]) == 0
    assert '"section"' in capsys.readouterr().out.splitlines()[0]


def test_by_takes_a_lead_column_or_an_attribute_by_its_plain_name():
    con = with_lead_attributes(store(leads=LEADS), ORIGINS)
    assert lead_dimension_named(con, "source") == "source"
    assert lead_dimension_named(con, "Lead Origin") == "attr:Lead Origin"
    assert lead_dimension_named(con, "LEAD-ORIGIN") == "attr:Lead Origin"
    assert lead_dimension_named(con, "attr:Lead Origin") == "attr:Lead Origin"
    assert lead_dimension_named(con, "Lifecycle Stage") == "lifecycle_stage"
    assert lead_dimension_named(con, "nothing") == "nothing"
    assert dimension_named("source", ["source"], ["source"]) == "source", "a lead column wins over an attribute"


def test_segments_by_source_merge_n_a_into_unknown():
    con = store(leads=[{**lead, "created_at": datetime(2024, 1, 1)} for lead in LEADS])
    report = metrics_report(con, Filters(as_of=AS_OF), settings=default_settings(), by="source")
    leads = {r["segment"]: r["leads"] for r in report["segments"]}
    assert leads == {None: 4, "web": 2, "ads": 1, UNKNOWN: 1}


def test_an_only_wins_deals_file_is_noted_in_the_metrics():
    con = store(leads=[{"lead_id": "L1", "created_at": datetime(2024, 1, 1)}],
                deals=[{"deal_id": "d1", "lead_id": "L1", "created_at": datetime(2024, 2, 1),
                        "closed_at": datetime(2024, 3, 1), "won": True, "amount": 5.0}])
    report = metrics_report(con, Filters(as_of=AS_OF), settings=default_settings())
    assert any("All 1 closed deals are won" in n for n in report["notes"])


# ------------------------------------------------------------------------------------ one unknown segment


def test_unknown_like_values_are_one_segment():
    values = ["", "  ", "unknown", "(Unknown)", "N/A", "n/a", None, "web", " web ", "Unknown Ventures", "-"]
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    assert frame.select(segment_text(pl.col("v"))).to_series().to_list() == [
        UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, "web", "web", "Unknown Ventures", UNKNOWN]


@given(st.lists(st.sampled_from(["web", "ads", "unknown", "(unknown)", "", "N/A", None, " web"]), min_size=1,
                max_size=40))
def test_segment_counts_add_up_and_every_unknown_like_value_lands_in_one_segment(values):
    leads = pl.DataFrame({"lead_id": [f"L{i}" for i in range(len(values))], "source": values},
                         schema={"lead_id": pl.String, "source": pl.String})
    counts = segment_values(leads, ["source"]).group_by("source").len()
    assert counts.get_column("len").sum() == len(values)
    unknown_like = sum(v is None or v.strip().lower() in ("", "unknown", "(unknown)", "n/a") for v in values)
    found = counts.filter(pl.col("source") == UNKNOWN).get_column("len").sum()
    assert found == unknown_like
    assert set(counts.get_column("source")) <= {"web", "ads", UNKNOWN}
