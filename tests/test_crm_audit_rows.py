"""Given/expect tests of the CRM audit's findings as rows of the hygiene report (beside the exact checks),
with the leads they flag and the trend since the previous month end."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from funnel import schema as sc
from funnel.analyses import crm_audit as ca
from funnel.analyses import duplicates as dup
from funnel.analyses.hygiene import CHECKS, REPORT_SCHEMA, hygiene_report
from funnel.config import default_settings
from funnel.model.records import FINDING_SCHEMA
from tests.stores import store

D = date(2026, 10, 31)
EMPTY = pl.DataFrame()


def audit_of(person_pairs: list[tuple], company_pairs: list[tuple], lead_findings: list[tuple]) -> ca.CrmAudit:
    """A CrmAudit with hand-made pairs (id_l, id_r, probability, evidence) and findings (id, field, current, suggested)."""
    def pairs(rows):
        return pl.DataFrame([(a, b, p, 5.0, e) for a, b, p, e in rows], schema=dup.PAIR_SCHEMA, orient="row")
    findings = pl.DataFrame([("leads", i, f, c, s, "rule") for i, f, c, s in lead_findings], schema=FINDING_SCHEMA,
                            orient="row")
    return ca.CrmAudit(EMPTY, pairs(person_pairs), pairs(company_pairs), EMPTY, EMPTY, findings,
                       pl.DataFrame(schema=FINDING_SCHEMA))


LEADS = pl.DataFrame({sc.LEAD_ID: ["1", "2", "3", "4", "5"], sc.ACCOUNT_ID: ["A", "A", "B", "C", None],
                      sc.CREATED_AT: [datetime(2026, 8, 1), datetime(2026, 10, 5), None, datetime(2026, 9, 1),
                                      datetime(2026, 9, 2)]})
AUDIT = audit_of([("1", "2", 0.97, "e-mail ignoring +tags"), ("1", "9", 0.95, "same phone")],  # 9 is not a lead
                 [("B", "C", 0.99, "same domain")],
                 [("3", "country", "Deutschland", "Germany"), ("3", "industry", "saas", "Software"),
                  ("5", "country", "usa", "United States")])


def test_flags_name_each_lead_once_per_finding_with_its_evidence_and_since_when():
    flags = ca.crm_audit_flags(AUDIT, LEADS)
    got = {(r["check"], r[sc.LEAD_ID], r["detail"], r["since"]) for r in flags.iter_rows(named=True)}
    pair_since = datetime(2026, 10, 5)  # the later-created lead of the pair
    assert got == {
        ("probable_duplicate", "1", "e-mail ignoring +tags (p = 0.97)", pair_since),
        ("probable_duplicate", "2", "e-mail ignoring +tags (p = 0.97)", pair_since),
        ("duplicate_company", "3", "same domain", None),
        ("duplicate_company", "4", "same domain", datetime(2026, 9, 1)),
        ("non_standard_fields", "3", "country: Deutschland → Germany", None),
        ("non_standard_fields", "3", "industry: saas → Software", None),
        ("non_standard_fields", "5", "country: usa → United States", datetime(2026, 9, 2)),
    }


def test_rows_count_distinct_leads_with_shares_of_the_population():
    rows = ca.crm_audit_rows(ca.crm_audit_flags(AUDIT, LEADS), population=5)
    assert rows.schema == pl.Schema(REPORT_SCHEMA)
    assert rows.select("check", "leads", "share").rows() == [
        ("probable_duplicate", 2, 0.4), ("duplicate_company", 2, 0.4), ("non_standard_fields", 2, 0.4)]
    empty = ca.crm_audit_rows(ca.crm_audit_flags(AUDIT, LEADS.clear()), population=0)
    assert empty["leads"].to_list() == [0, 0, 0] and empty["share"].null_count() == 3


def test_month_before_counts_the_findings_that_already_existed():
    flags = ca.crm_audit_flags(AUDIT, LEADS)
    # at the end of September: the pair (lead 2 came in October) did not exist yet; undated lead 3 always did
    assert ca._flagged_by(flags, datetime(2026, 10, 1)) == {"duplicate_company": 2, "non_standard_fields": 2}


def messy_store():
    leads = [
        {sc.LEAD_ID: "1", sc.EMAIL: "ana.lima@acme.com", sc.NAME: "Ana Lima", sc.COMPANY: "Acme",
         sc.CREATED_AT: datetime(2026, 8, 1), sc.LIFECYCLE_STAGE: "lead", sc.COUNTRY: "usa"},
        {sc.LEAD_ID: "2", sc.EMAIL: "Ana.Lima+news@acme.com", sc.NAME: "Ana Lima", sc.COMPANY: "Acme",
         sc.CREATED_AT: datetime(2026, 10, 5), sc.LIFECYCLE_STAGE: "lead"},
        {sc.LEAD_ID: "3", sc.EMAIL: "jon@beta.com", sc.NAME: "Jon Berg", sc.COMPANY: "Beta",
         sc.CREATED_AT: datetime(2026, 9, 1), sc.LIFECYCLE_STAGE: "lead"},
        {sc.LEAD_ID: "4", sc.EMAIL: "jan@beta.com", sc.NAME: "Jan Holm", sc.COMPANY: "Beta",
         sc.CREATED_AT: datetime(2026, 9, 2), sc.LIFECYCLE_STAGE: "lead"},
    ]
    return store(leads=leads)


def test_audited_hygiene_lists_the_exact_checks_then_the_fuzzy_ones_with_their_trend():
    con = messy_store()
    audit = ca.crm_audit(con, as_of=D)
    table = ca.audited_hygiene(con, settings=default_settings(), as_of=D, audit=audit)
    report = hygiene_report(con, settings=default_settings(), as_of=D)
    assert table["check"].to_list() == [*CHECKS, *ca.AUDIT_CHECKS]
    exact = table.filter(pl.col("kind") == "exact")
    assert exact.select(report.columns).equals(report)  # the exact checks unchanged
    assert table.get_column("share").drop_nulls().is_between(0, 1).all()
    assert (table["change"] == table["leads"] - table["month_before"]).all()
    fuzzy = {r["check"]: r for r in table.filter(pl.col("kind") == "fuzzy").iter_rows(named=True)}
    assert (fuzzy["probable_duplicate"]["leads"], fuzzy["probable_duplicate"]["month_before"]) == (2, 0)
    assert fuzzy["non_standard_fields"]["leads"] >= 1  # "usa" is not a country's standard name
    listed = ca.audited_hygiene_leads(con, as_of=D, audit=audit, check="probable_duplicate")
    assert sorted(listed[sc.LEAD_ID].to_list()) == ["1", "2"]  # jon@ vs jan@ at Beta is not a pair
    assert listed.columns[:3] == [sc.LEAD_ID, "group", "detail"]


@hsettings(max_examples=50, deadline=None)
@given(pairs=st.lists(st.tuples(st.sampled_from("123456"), st.sampled_from("123456")), max_size=6),
       findings=st.lists(st.sampled_from("1234567"), max_size=6), population=st.integers(0, 6))
def test_fuzzy_rows_are_shares_of_the_leads_and_never_exceed_them(pairs, findings, population):
    ids = [str(i) for i in range(1, population + 1)]
    leads = pl.DataFrame({sc.LEAD_ID: ids, sc.ACCOUNT_ID: ["A"] * population,
                          sc.CREATED_AT: [datetime(2026, 9, 1)] * population},
                         schema={sc.LEAD_ID: pl.String, sc.ACCOUNT_ID: pl.String, sc.CREATED_AT: pl.Datetime("us")})
    audit = audit_of([(a, b, 0.95, "x") for a, b in pairs if a != b], [("A", "B", 0.99, "y")],
                     [(i, "country", "usa", "United States") for i in findings])
    flags = ca.crm_audit_flags(audit, leads)
    rows = ca.crm_audit_rows(flags, population=population)
    assert (rows["leads"] <= population).all()
    if population:
        assert rows["share"].is_between(0, 1).all()
    else:
        assert rows["share"].null_count() == rows.height
    now = dict(zip(rows["check"], rows["leads"], strict=True))
    assert all(n <= now[c] for c, n in ca._flagged_by(flags, datetime(2026, 10, 1)).items())
