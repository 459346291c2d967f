"""Given/expect tests of progressive profiling on the same leads: the store keeps every imported version
of a lead, so three monthly imports of one CRM show the same records filling up."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from funnel import schema as sc
from funnel.analyses import capture as cap
from funnel.config import default_settings
from funnel.ingest.importer import PreparedImport, remove_import, write_import
from funnel.model.identity import rebuild_identity
from funnel.store.db import memory_connection

D = date(2026, 4, 30)
CREATED = datetime(2026, 1, 1)
ATTR = pl.List(pl.Struct({"key": pl.String, "value": pl.String}))


def leads_export(rows: list[dict]) -> pl.DataFrame:
    """A canonical leads frame as the importer prepares it (every column, attributes, source rows)."""
    schema = sc.LEADS.polars_schema()
    full = [{**{c: row.get(c) for c in schema}, sc.CREATED_AT: row.get(sc.CREATED_AT, CREATED),
             sc.ATTRIBUTES: [{"key": k, "value": v} for k, v in row.get("attrs", {}).items()],
             sc.SOURCE_ROW: i + 1} for i, row in enumerate(rows)]
    return pl.DataFrame(full, schema={**schema, sc.ATTRIBUTES: ATTR, sc.SOURCE_ROW: pl.Int64}, orient="row")


def imported(con, rows: list[dict], *, at: datetime) -> int:
    """One export of the leads table written as an import made at `at`; returns its import id."""
    prepared = PreparedImport(file_name=f"leads_{at:%Y%m%d}.csv", sha256=f"sha-{at.isoformat()}", format="csv",
                              table=sc.LEADS.name, frame=leads_export(rows))
    return write_import(con, prepared, now=at).import_id


JAN, FEB, APR = datetime(2026, 1, 2), datetime(2026, 2, 2), datetime(2026, 4, 5)


def three_imports():
    """Leads 1–3 first seen on 2 Jan, lead 4 on 2 Feb; their fields fill in over three imports."""
    con = memory_connection()
    imported(con, [{sc.LEAD_ID: "1"}, {sc.LEAD_ID: "2", sc.TITLE: "VP Sales", "attrs": {"tier": "gold"}},
                   {sc.LEAD_ID: "3"}], at=JAN)
    imported(con, [{sc.LEAD_ID: "1", sc.TITLE: "Director"},
                   {sc.LEAD_ID: "2", sc.TITLE: "VP Sales", sc.PHONE: "+1 555 0100", "attrs": {"tier": "gold"}},
                   {sc.LEAD_ID: "3"}, {sc.LEAD_ID: "4", sc.TITLE: "CEO", sc.CREATED_AT: datetime(2026, 1, 30)}],
             at=FEB)
    last = imported(con, [{sc.LEAD_ID: "1", sc.TITLE: "Director", sc.PHONE: "+1 555 0101"},
                          {sc.LEAD_ID: "3", sc.COUNTRY: "DE", "attrs": {"tier": "silver"}}], at=APR)
    rebuild_identity(con)
    return con, last


def panel_of(con, as_of: date = D) -> tuple[pl.DataFrame, str]:
    captured = cap.capture_frame(con, settings=default_settings(), as_of=as_of)
    return cap.same_lead_fill(con, captured, settings=default_settings(), as_of=as_of)


def rows(panel: pl.DataFrame, field: str) -> dict[int, tuple]:
    return {r["days"]: (r["leads"], r["filled_first"], r["filled_later"])
            for r in panel.filter(pl.col("field") == field).iter_rows(named=True)}


def test_the_same_leads_fill_up_between_imports():
    con, _ = three_imports()
    panel, note = panel_of(con)
    # 30 days: the first import at least 30 days after each lead's first one (2 Feb for 1–3, 5 Apr for 4)
    # 90 days: 5 Apr for leads 1–3; lead 4 (first seen 2 Feb) has no import 90+ days later yet
    assert rows(panel, "title") == {30: (4, 2, 3), 90: (3, 1, 2)}
    assert rows(panel, "phone") == {30: (4, 0, 1), 90: (3, 0, 2)}
    assert rows(panel, "country") == {30: (4, 0, 0), 90: (3, 0, 1)}
    assert rows(panel, "seniority") == {30: (4, 2, 3), 90: (3, 1, 2)}
    assert rows(panel, "attr:tier") == {30: (4, 1, 1), 90: (3, 1, 2)}
    title90 = panel.filter((pl.col("field") == "title") & (pl.col("days") == 90)).row(0, named=True)
    assert (title90["fill_first"], title90["fill_later"]) == (1 / 3, 2 / 3)
    assert abs(title90["fill_change"] - 1 / 3) < 1e-12
    assert "3 imports" in note and "4 leads have a version 30+" in note and "3 leads have a version 90+" in note


def test_an_import_after_d_or_removed_is_not_a_later_version():
    con, last = three_imports()
    before_april, _ = panel_of(con, as_of=date(2026, 3, 31))  # the April import is after D
    assert rows(before_april, "title") == {30: (3, 1, 2)}
    assert rows(before_april, "phone") == {30: (3, 0, 1)}
    remove_import(con, last, now=datetime(2026, 4, 6))
    rebuild_identity(con)
    removed, _ = panel_of(con)
    assert rows(removed, "title") == {30: (3, 1, 2)}


def test_one_import_says_so_and_keeps_the_cross_section():
    con = memory_connection()
    imported(con, [{sc.LEAD_ID: "1", sc.TITLE: "CEO"}, {sc.LEAD_ID: "2"}], at=JAN)
    rebuild_identity(con)
    audit = cap.capture_audit(con, settings=default_settings(), as_of=D)
    assert audit.panel.is_empty()
    assert "only one import of the leads table" in audit.panel_note
    assert audit.age.filter(pl.col("field") == "title").get_column("leads").sum() == 2
    imported(con, [{sc.LEAD_ID: "1", sc.TITLE: "CEO", sc.PHONE: "+1 555 0100"}], at=JAN + timedelta(days=3))
    rebuild_identity(con)
    again = cap.capture_audit(con, settings=default_settings(), as_of=D)
    assert again.panel.is_empty() and "2 imports of the leads table, but none made at least 30 days" in again.panel_note


fill = st.fixed_dictionaries({sc.TITLE: st.sampled_from([None, "", "CEO", "Intern"]),
                              sc.PHONE: st.sampled_from([None, "+1 555 0100"]),
                              sc.COUNTRY: st.sampled_from([None, "DE"])})


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exports=st.lists(st.dictionaries(st.sampled_from(["1", "2", "3", "4"]), fill, min_size=1), min_size=1,
                        max_size=3),
       gaps=st.lists(st.integers(0, 120), min_size=3, max_size=3), created=st.integers(-60, 200))
def test_panel_rates_are_shares_and_never_more_leads_than_the_cross_section(exports, gaps, created):
    con = memory_connection()
    at = JAN
    for export, gap in zip(exports, gaps, strict=False):
        at += timedelta(days=gap, seconds=1)
        imported(con, [{sc.LEAD_ID: k, sc.CREATED_AT: CREATED + timedelta(days=created * (k == "4")), **v}
                       for k, v in sorted(export.items())], at=at)
    rebuild_identity(con)
    captured = cap.capture_frame(con, settings=default_settings(), as_of=D)
    panel, _ = cap.same_lead_fill(con, captured, settings=default_settings(), as_of=D)
    for column in ("fill_first", "fill_later"):
        assert panel.get_column(column).is_between(0, 1).all()
    assert (panel.get_column("leads") <= captured.height).all()
    assert (panel.get_column("filled_first") <= panel.get_column("leads")).all()
    assert (panel.get_column("filled_later") <= panel.get_column("leads")).all()
    if len(exports) < 2:
        assert panel.is_empty()
