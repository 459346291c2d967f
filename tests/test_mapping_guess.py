"""The guided mapper: proposals from names and values, what is missing, a saved mapping recognising the next export."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from funnel.cli.main import main
from funnel.ingest.mapping import DEFAULT_DATE_FORMATS, mapping_from_text
from funnel.ingest.mapping_guess import (
    is_date,
    mapping_text,
    missing_for_analyses,
    proposed_columns,
    proposed_table,
    save_mapping,
    value_kinds,
)
from funnel.store.db import connect

EXPORT = pl.DataFrame({
    "mql_id": ["a1", "a2", "a3"],
    "first_contact_date": ["2024-01-03", "2024-02-10", "2024-02-11"],
    "origin": ["paid_search", "organic_search", "social"],
    "contact e-mail": ["x@example.com", "y@example.com", "z@example.org"],
})


def test_values_are_recognised_by_pattern():
    kinds = value_kinds(pl.Series(["x@example.com", "2024-01-03", "1,234.5", ""]))
    assert kinds == {"email": 1 / 3, "date": 1 / 3, "number": 1 / 3}


def read_by_a_format(text: str) -> bool:
    """The date test as it was before its quick refusal: every default format tried on the first 19 characters."""
    for fmt in DEFAULT_DATE_FORMATS:
        try:
            datetime.strptime(text[:19], fmt.replace("%.f", ""))
            return True
        except ValueError:
            continue
    return False


DATE_LIKE = st.from_regex(r"\A[0-9\u0660-\u0669 ]{0,5}[-/ ]?[0-9]{0,3}[-/T]?[0-9 ]{0,3}[ T]?[0-9:.]{0,12}\Z")


@given(st.one_of(DATE_LIKE, st.text(max_size=25), st.datetimes().map(str)))
def test_a_text_is_a_date_exactly_when_a_default_format_reads_it(text):
    assert is_date(text) == read_by_a_format(text)


def test_dates_in_each_default_format_and_other_digits_are_dates():
    for text in ("2024-01-03 10:11:12", "2024-01-03 10:11:12.5", "2024-01-03T10:11:12", "2024-01-03 10:11",
                 "2024-01-03", "2024/1/3 10:11:12", "2024/01/03", "\u0662\u0660\u0662\u0664-01-03"):
        assert is_date(text), text
    for text in ("03/01/2024", "24-01-03", " 2024-01-03", "2024.01.03", "Jan 3, 2024", "20240103", ""):
        assert not is_date(text), text


def test_an_unknown_lead_export_gets_a_sensible_proposal():
    assert proposed_table(EXPORT) == "leads"
    proposal = proposed_columns(EXPORT, "leads")
    assert proposal["lead_id"] == "mql_id"  # an id-like column with unique values
    assert proposal["created_at"] == "first_contact_date"  # dates, named like a date
    assert proposal["source"] == "origin"  # a known alias
    assert proposal["email"] == "contact e-mail"  # e-mail addresses
    assert proposal["owner"] is None


def test_what_is_missing_is_said_as_what_it_costs():
    missing = missing_for_analyses("leads", {"lead_id": "mql_id"})
    assert any("dates for trends" in m for m in missing)
    assert missing_for_analyses("leads", {"lead_id": None})[0] == "lead_id is required for leads"


def test_the_mapping_text_is_valid_toml_and_recognises_the_same_shape():
    text = mapping_text('Olist "MQLs"', table="leads", columns=proposed_columns(EXPORT, "leads"))
    mapping = mapping_from_text(text)
    assert mapping.name == 'Olist "MQLs"'
    section = mapping.section_for(list(EXPORT.columns))
    assert section is not None and section.columns["mql_id"] == "lead_id"
    assert mapping.section_for(["something", "else"]) is None


def test_a_saved_mapping_imports_next_months_export_in_one_step(tmp_path: Path, capsys):
    db = tmp_path / "funnel.duckdb"
    con = connect(db)
    save_mapping(con, name="olist mqls", text=mapping_text("olist mqls", table="leads",
                                                             columns=proposed_columns(EXPORT, "leads")))
    con.close()
    export = tmp_path / "next_month.csv"
    EXPORT.write_csv(export)
    assert main(["import", "--db", str(db), str(export)]) == 0
    assert "→ leads: 3 rows" in capsys.readouterr().out
    con = connect(db, read_only=True)
    assert con.execute("SELECT count(*) FROM leads WHERE created_at IS NOT NULL").fetchall() == [(3,)]
    con.close()
