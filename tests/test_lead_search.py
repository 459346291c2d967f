"""Finding a lead by id, e-mail or name, and the lead's card."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funnel.analyses.lead_search import CARD_FIELDS, lead_card, matching_leads
from funnel.ingest.importer import prepare_import, write_import
from funnel.model.identity import rebuild_identity
from funnel.store.db import memory_connection, scalar

# (lead_id, email, name, company, lifecycle_stage, owner)
LEADS = [
    ("AC7", "ada@example.com", "Ada Lovelace", "Analytical Engines", "lead", "ae.ivan@acme.test"),
    ("C7", "grace.hopper@navy.mil", "Grace Hopper", "US Navy", "mql", None),
    ("C70", "percent@discount.test", "100% Discount_Club", "Deals & Co", "lead", None),
    ("C71", "o'brien@pub.test", "Dara O'Brien", None, "customer", "ae.felix@acme.test"),
    ("C72", None, "Back\\slash [bracket] *star* ^caret$", None, None, None),
    ("C73", "zoe@müller.test", "Zoë MÜLLER", None, "subscriber", None),
    ("C74", "under_score@x.test", None, None, None, None),
]
COLUMNS = ["lead_id", "name", "email", "company", "lifecycle_stage", "owner"]


@pytest.fixture(scope="module")
def con():
    store = memory_connection()
    store.executemany(
        "INSERT INTO leads (lead_id, email, name, company, lifecycle_stage, owner) VALUES ($1, $2, $3, $4, $5, $6)",
        [list(row) for row in LEADS])
    yield store
    store.close()


def ids(con, query: str, **options) -> list[str]:
    return matching_leads(con, query=query, **options).get_column("lead_id").to_list()


def test_the_exact_id_comes_first(con):
    # "AC7" sorts before "C7", but C7 is the id typed; then the ids that contain it, in order
    assert ids(con, "c7") == ["C7", "AC7", "C70", "C71", "C72", "C73", "C74"]
    assert ids(con, "C70") == ["C70"]


def test_search_ignores_case_and_surrounding_spaces(con):
    assert ids(con, "  ADA ") == ["AC7"]
    assert ids(con, "hopper") == ids(con, "HoPpEr") == ["C7"]
    assert ids(con, "müller") == ids(con, "MÜLLER") == ["C73"]


def test_email_and_name_are_searched(con):
    assert ids(con, "navy.mil") == ["C7"]          # e-mail only
    assert ids(con, "lovelace") == ["AC7"]         # name only
    assert ids(con, "@x.test") == ["C74"]          # a lead without a name
    assert ids(con, "bracket") == ["C72"]          # a lead without an e-mail


@pytest.mark.parametrize(("query", "expected"), [
    ("%", ["C70"]),                 # not "any text"
    ("_", ["C70", "C74"]),          # not "any character"
    ("'", ["C71"]),
    ("o'brien", ["C71"]),
    ("100%", ["C70"]),
    ("a%", []),
    ("_c", ["C70"]),
    ("\\", ["C72"]),
    ("[bracket]", ["C72"]),
    ("*star*", ["C72"]),
    ("^caret$", ["C72"]),
    ("' OR '1'='1", []),
    ("'; DROP TABLE leads; --", []),
    ("%'--", []),
])
def test_sql_and_wildcard_characters_are_literal(con, query, expected):
    assert ids(con, query) == expected
    assert ids(con, "") == []
    assert scalar(con, "SELECT count(*) FROM leads") == len(LEADS)


def test_matches_carry_the_lead_columns(con):
    found = matching_leads(con, query="o'brien")
    assert found.columns == COLUMNS
    assert found.rows() == [("C71", "Dara O'Brien", "o'brien@pub.test", None, "customer", "ae.felix@acme.test")]


@pytest.mark.parametrize("query", ["", "   ", "\t\n"])
def test_a_blank_query_gives_no_rows_with_the_columns(con, query):
    found = matching_leads(con, query=query)
    assert found.height == 0 and found.columns == COLUMNS


def test_limit(con):
    assert ids(con, "c7", limit=2) == ["C7", "AC7"]
    assert ids(con, "no such lead anywhere") == []


TEXTS = [t for row in LEADS for t in (row[0], row[1], row[2]) if t]
ALPHABET = "aAcCdeE7%_'\\ .@-[]*$^müÜëÖ"


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.text(alphabet=ALPHABET, min_size=1, max_size=4),
                 st.sampled_from(TEXTS).flatmap(lambda t: st.tuples(st.integers(0, len(t)), st.integers(0, len(t)))
                                                .map(lambda ij, t=t: t[min(ij):max(ij)].upper()))))
def test_results_are_exactly_the_leads_containing_the_text(con, query):
    text = query.strip().lower()
    found = ids(con, query)
    if not text:
        assert found == []
        return
    expected = sorted(lead_id for lead_id, email, name, *_ in LEADS
                      if any(text in (v or "").lower() for v in (lead_id, email, name)))
    exact = [i for i in expected if i.lower() == text]
    assert found == exact + [i for i in expected if i not in exact]


def test_search_after_an_import(tmp_path):
    csv = tmp_path / "leads.csv"
    csv.write_text("lead_id,email,name,company\n"
                   "X-1,jo@ex.test,Jo March,Plumfield\n"
                   "X-10,amy@ex.test,Amy March,\n"
                   "X-2,beth@ex.test,Beth March,Plumfield\n", encoding="utf-8")
    con = memory_connection()
    write_import(con, prepare_import(csv, table="leads"))
    rebuild_identity(con)
    assert ids(con, "x-1") == ["X-1", "X-10"]
    assert ids(con, "MARCH") == ["X-1", "X-10", "X-2"]
    assert matching_leads(con, query="beth").row(0) == ("X-2", "Beth March", "beth@ex.test", "Plumfield", None, None)


# ---------------------------------------------------------------------------------- lead_card


def test_lead_card_given_expect():
    row = {"lead_id": "L1", "funnel_stage": "intent", "stage_entered_at": datetime(2026, 10, 3, 9, 30),
           "lifecycle_stage": None, "fit_score": 65, "icp": "Mid-market software", "intent_score": 42.26,
           "quadrant": "high_fit_high_intent", "tags": ["Enterprise", "Executive level"], "team": "SDR",
           "next_owner": "sdr.ana@acme.test", "next_action": "Call within one business day: route to sales now",
           "next_action_due": date(2026, 10, 4), "route_rule": "SDR task: high fit at intent", "track": None,
           "evidence": "intent: pricing_page_view on 2026-10-03 (/pricing)"}
    card = lead_card(row)
    assert card.columns == ["", "value"]
    assert card.rows() == [
        ("funnel stage", "intent"),
        ("since", "2026-10-03 09:30:00"),
        ("lifecycle stage", "–"),
        ("fit", "65"),
        ("ideal customer profile", "Mid-market software"),
        ("intent", "42.3"),
        ("quadrant", "high_fit_high_intent"),
        ("tags", "Enterprise, Executive level"),
        ("team", "SDR"),
        ("next owner", "sdr.ana@acme.test"),
        ("next action", "Call within one business day: route to sales now"),
        ("due", "2026-10-04"),
        ("routed by rule", "SDR task: high fit at intent"),
        ("nurture track", "–"),
        ("evidence", "intent: pricing_page_view on 2026-10-03 (/pricing)"),
    ]


def test_lead_card_of_a_sparse_row():
    card = lead_card({"lead_id": "L2", "tags": [], "intent_score": 0.0, "fit_score": 0})
    values = dict(card.rows())
    assert values["tags"] == "–" and values["intent"] == "0.0" and values["fit"] == "0"
    assert [values[label] for label, key in CARD_FIELDS if key not in ("tags", "intent_score", "fit_score")] == \
        ["–"] * (len(CARD_FIELDS) - 3)
    assert card.schema == pl.Schema({"": pl.String, "value": pl.String})
