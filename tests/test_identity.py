"""Tests for funnel.model.identity: one person across tools (DOMAIN.md "Who is a lead", "One person across tools").

Given/expect rows per join key and alias rule, the conflicts, the orphans, the population rule with and
without a leads table, enrichment and intent reaching accounts, a three-tool stack imported through the
presets, and a property: the same people's rows split across tool files give the same stages and scores.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from funnel import schema as sc
from funnel.analyses.hygiene import hygiene_leads, identity_hygiene
from funnel.config import default_settings
from funnel.errors import ValidationError
from funnel.ingest.importer import canonical_import, prepare_import, remove_import, write_import
from funnel.ingest.mapping import identity_section, mapping_from_text
from funnel.model.identity import (
    identity_conflicts,
    identity_findings,
    identity_matches,
    match_summary,
    rebuild_identity,
    unmatched_people,
)
from funnel.model.scoring import intent_explanation, leads_report
from funnel.store.db import frame, memory_connection, raw_name

FIXTURES = Path(__file__).parent / "fixtures" / "identity"
SETTINGS = default_settings()
T0 = datetime(2024, 3, 1, 9, 0)


def raw_store(**tables: list[dict]):
    """An in-memory store holding the given rows as imported (raw tables), with the identity model built."""
    con = memory_connection()
    for name, rows in tables.items():
        if not rows:
            continue
        spec = sc.IDENTITY_LINKS if name == sc.IDENTITY_LINKS.name else sc.TABLES[name]
        columns = list(dict.fromkeys(c for row in rows for c in row))
        schema = {c: spec.column(c).dtype if c != sc.IMPORT_ID else pl.Int64 for c in columns}
        incoming = pl.DataFrame([{c: row.get(c) for c in columns} for row in rows], schema=schema, orient="row")
        con.register("incoming", incoming.to_arrow())
        con.execute(f"INSERT INTO {raw_name(name)} BY NAME SELECT * FROM incoming")
        con.unregister("incoming")
    rebuild_identity(con)
    return con


def lead(lead_id: str, email: str | None = None, created: datetime = T0, **more) -> dict:
    return {"lead_id": lead_id, "email": email, "created_at": created, **more}


def touch(tool_id: str, n: int, kind: str = "page_view", at: datetime = T0) -> dict:
    return {"activity_id": f"a{n}", "lead_id": tool_id, "activity_type": kind, "occurred_at": at}


def link(tool_id: str, kind: str, value: str) -> dict:
    return {"tool_id": tool_id, "key_kind": kind, "key_value": value}


def resolved(con) -> dict[str, str | None]:
    return dict(con.execute("SELECT tool_id, lead_id FROM identity_map").fetchall())


def matched_by(con) -> dict[str, str]:
    return dict(con.execute("SELECT tool_id, matched_by FROM identity_map").fetchall())


# ------------------------------------------------------------------------------------ join keys


def test_a_row_joins_by_lead_id_first_then_normalised_email():
    con = raw_store(
        leads=[lead("L1", "Ana@Acme.com"), lead("L2", "ben@beta.io")],
        activities=[touch("L1", 1), touch("P-ana", 2), touch("P-ben", 3)],
        identity_links=[link("P-ana", "email", "  ana@ACME.com "), link("P-ben", "email", "ben@beta.io")])
    assert resolved(con) == {"L1": "L1", "P-ana": "L1", "P-ben": "L2"}
    assert matched_by(con) == {"L1": "lead_id", "P-ana": "email", "P-ben": "email"}
    assert sorted(con.execute("SELECT lead_id, activity_id FROM activities").fetchall()) == [
        ("L1", "a1"), ("L1", "a2"), ("L2", "a3")]


def test_an_id_that_is_itself_an_email_joins_by_email():
    con = raw_store(leads=[lead("L1", "ana@acme.com")], activities=[touch("Ana@Acme.com", 1)])
    assert resolved(con) == {"Ana@Acme.com": "L1"}


@pytest.mark.parametrize("junk", ["n/a", "test@test", "", "  ", "none", "ana@acme", "not an email"])
def test_junk_emails_never_join_people(junk):
    con = raw_store(leads=[lead("L1", junk), lead("L2", junk)],
                    activities=[touch("P1", 1)], identity_links=[link("P1", "email", junk)])
    assert resolved(con) == {"P1": None}
    assert identity_conflicts(con).height == 0


def test_a_device_joins_anonymous_rows_to_the_person_who_signed_in():
    # Mixpanel Simplified ID Merge: $device:d1 browsed anonymously, then signed in as ana@acme.com.
    con = raw_store(
        leads=[lead("L1", "ana@acme.com")],
        activities=[touch("$device:d1", 1, "pricing_page_view"), touch("ana@acme.com", 2, "demo_request")],
        identity_links=[link("$device:d1", "device", "d1"), link("$device:d1", "anonymous", "device"),
                        link("ana@acme.com", "device", "d1")])
    assert resolved(con) == {"$device:d1": "L1", "ana@acme.com": "L1"}
    assert matched_by(con)["$device:d1"] == "device"


def test_an_anonymous_id_recorded_by_identify_joins_the_identified_person():
    # PostHog $identify: distinct_id is the user, $anon_distinct_id the id used before.
    con = raw_store(
        leads=[lead("L1", "ana@acme.com")],
        activities=[touch("anon-7", 1), touch("user-1", 2)],
        identity_links=[link("user-1", "anonymous_id", "anon-7"), link("user-1", "email", "ana@acme.com")])
    assert resolved(con) == {"anon-7": "L1", "user-1": "L1"}
    assert matched_by(con) == {"anon-7": "alias", "user-1": "email"}


def test_ids_sharing_the_tools_person_key_are_one_person():
    con = raw_store(leads=[lead("L1", "ana@acme.com")], activities=[touch("ph-a", 1), touch("ph-b", 2)],
                    identity_links=[link("ph-a", "person", "p1"), link("ph-b", "person", "p1"),
                                    link("ph-b", "email", "ana@acme.com")])
    assert resolved(con) == {"ph-a": "L1", "ph-b": "L1"}


def test_a_crm_id_column_joins_the_marketing_tools_id_to_the_lead():
    # Marketo activities keyed by Marketo's lead id, carrying the Salesforce lead id it syncs with.
    con = raw_store(leads=[lead("00Q1")], activities=[touch("1001", 1)],
                    identity_links=[link("1001", "alias", "00Q1")])
    assert resolved(con) == {"1001": "00Q1", "00Q1": "00Q1"}
    assert matched_by(con)["1001"] == "alias"


def test_links_are_followed_over_several_hops():
    con = raw_store(leads=[lead("L1", "ana@acme.com")],
                    activities=[touch("$device:d1", 1), touch("anon-2", 2)],
                    identity_links=[link("$device:d1", "device", "d1"), link("$device:d1", "anonymous", "device"),
                                    link("u1", "device", "d1"), link("u1", "anonymous_id", "anon-2"),
                                    link("u1", "user", "ana@acme.com")])
    assert resolved(con)["$device:d1"] == "L1" and resolved(con)["anon-2"] == "L1"


# ------------------------------------------------------------------------------------ conflicts


def test_one_email_on_two_leads_goes_to_the_first_created_and_is_listed():
    con = raw_store(leads=[lead("L2", "ana@acme.com", datetime(2024, 3, 2)),
                           lead("L1", "Ana@acme.com", datetime(2024, 3, 1))],
                    activities=[touch("P1", 1)], identity_links=[link("P1", "email", "ana@acme.com")])
    assert resolved(con) == {"P1": "L1"}
    conflicts = identity_conflicts(con).to_dicts()
    assert conflicts == [{"kind": "one e-mail on several leads", "key": "ana@acme.com", "candidates": ["L1", "L2"],
                          "chosen": "L1", "rule": "the lead created first gets it"}]


def test_the_conflict_rule_is_a_setting():
    last = dataclasses.replace(SETTINGS, identity=dataclasses.replace(SETTINGS.identity, conflict_rule="last_created"))
    con = raw_store(leads=[lead("L1", "ana@acme.com", datetime(2024, 3, 1)),
                           lead("L2", "ana@acme.com", datetime(2024, 3, 2))],
                    activities=[touch("P1", 1)], identity_links=[link("P1", "email", "ana@acme.com")])
    rebuild_identity(con, settings=last)
    assert resolved(con) == {"P1": "L2"}
    assert identity_conflicts(con).get_column("rule").to_list() == ["the lead created last gets it"]


def test_one_device_identifying_as_two_users_is_a_conflict_settled_by_the_rule():
    con = raw_store(
        leads=[lead("L1", "ana@acme.com", datetime(2024, 3, 1)), lead("L2", "ben@beta.io", datetime(2024, 3, 5))],
        activities=[touch("$device:d1", 1)],
        identity_links=[link("$device:d1", "device", "d1"), link("$device:d1", "anonymous", "device"),
                        link("ben@beta.io", "device", "d1"), link("ana@acme.com", "device", "d1")])
    assert resolved(con)["$device:d1"] == "L1"
    assert resolved(con)["ben@beta.io"] == "L2" and resolved(con)["ana@acme.com"] == "L1"  # never merged
    (conflict,) = identity_conflicts(con).to_dicts()
    assert conflict["kind"] == "one device used by several leads" and conflict["candidates"] == ["L1", "L2"]


# ------------------------------------------------------------------------------------ population


def test_with_a_leads_table_rows_of_other_people_are_kept_reported_and_not_leads():
    con = raw_store(
        leads=[lead("L1", "ana@acme.com")],
        stage_events=[{"lead_id": "L1", "ladder": "lifecycle", "stage": "lead", "entered_at": T0},
                      {"lead_id": "GHOST", "ladder": "lifecycle", "stage": "mql", "entered_at": T0}],
        activities=[touch("L1", 1), touch("P-zoe", 2, "pricing_page_view"), touch("$device:x", 3)],
        deals=[{"deal_id": "D1", "lead_id": "GHOST"}, {"deal_id": "D2", "lead_id": "L1"},
               {"deal_id": "D3", "account_id": "C1"}],
        identity_links=[link("P-zoe", "email", "zoe@zeta.com"), link("$device:x", "device", "x"),
                        link("$device:x", "anonymous", "device")])
    assert con.execute("SELECT lead_id FROM stage_events").fetchall() == [("L1",)]
    assert sorted(con.execute("SELECT activity_id FROM activities").fetchall()) == [("a1",)]
    assert sorted(con.execute("SELECT deal_id FROM deals").fetchall()) == [("D2",), ("D3",)]
    assert con.execute(f"SELECT count(*) FROM {raw_name('activities')}").fetchall() == [(3,)]  # raw rows kept
    unmatched = unmatched_people(con).select("person_id", "table_name", "anonymous").sort("person_id").rows()
    assert unmatched == [("$device:x", "activities", True), ("GHOST", "deals", False),
                         ("GHOST", "stage_events", False), ("P-zoe", "activities", False)]
    findings = identity_findings(con, settings=SETTINGS).filter(
        pl.col("finding") == "known to another tool, missing from the CRM")
    assert findings.select("key", "rows", "intent_rows").rows() == [("P-zoe", 1, 1)]


def test_without_a_leads_table_every_identified_person_is_a_lead_and_anonymous_ids_are_not():
    con = raw_store(
        stage_events=[{"lead_id": "S1", "ladder": "lifecycle", "stage": "lead", "entered_at": T0}],
        activities=[touch("S1", 1), touch("K-ana", 2), touch("ana@acme.com", 3), touch("$device:d", 4),
                    touch("$device:lost", 5)],
        identity_links=[link("K-ana", "email", "ana@acme.com"), link("$device:d", "device", "d"),
                        link("$device:d", "anonymous", "device"), link("ana@acme.com", "device", "d"),
                        link("$device:lost", "device", "lost"), link("$device:lost", "anonymous", "device")])
    people = resolved(con)
    assert people["S1"] == "S1"
    assert people["K-ana"] == people["ana@acme.com"] == people["$device:d"] == "K-ana"  # one person, smallest id
    assert people["$device:lost"] is None
    assert sorted(r[0] for r in con.execute("SELECT DISTINCT lead_id FROM activities").fetchall()) == ["K-ana", "S1"]


def test_a_stage_entry_before_creation_is_a_hygiene_finding():
    con = raw_store(leads=[lead("L1", created=datetime(2024, 3, 10))],
                    stage_events=[{"lead_id": "L1", "ladder": "lifecycle", "stage": "lead",
                                   "entered_at": datetime(2024, 3, 1)}])
    flagged = hygiene_leads(con, settings=SETTINGS, as_of=date(2024, 3, 31), check="impossible_sequence")
    assert flagged.get_column("lead_id").to_list() == ["L1"]


def test_identity_hygiene_counts_people_missing_from_the_crm_and_conflicts_by_kind():
    con = raw_store(
        leads=[lead("L1", email="ana@acme.com", created=datetime(2024, 1, 1)),
               lead("L2", email="ANA@acme.com ", created=datetime(2024, 1, 2))],
        activities=[touch("K-ana", 1), touch("P-zoe", 2, kind="demo_request"), touch("P-zoe", 3),
                    touch("P-max", 4)],
        identity_links=[link("K-ana", "email", "ana@acme.com"), link("P-zoe", "email", "zoe@zeta.com"),
                        link("P-max", "email", "max@zeta.com")])
    summary = identity_hygiene(con, settings=SETTINGS)
    rows = {r["finding"]: (r["keys"], r["rows"], r["with_intent"]) for r in summary.iter_rows(named=True)}
    assert rows == {"known to another tool, missing from the CRM": (2, 3, 1),
                    "one e-mail on several leads": (1, 1, 0)}
    assert summary.get_column("what_to_do").str.len_chars().min() > 20
    assert summary.get_column("keys").sum() == identity_findings(con, settings=SETTINGS).height  # adds up
    assert identity_hygiene(memory_connection(), settings=SETTINGS).is_empty()


# ------------------------------------------------------------------------------ accounts, enrichment, intent


def enrichment_store(enrichment_wins: bool = False):
    con = memory_connection()
    con.execute("INSERT INTO imports (import_id, file_name, sha256, table_name, mapping) VALUES "
                "(1, 'crm.csv', 'x', 'accounts', 'HubSpot'), (2, 'clearbit.csv', 'y', 'accounts', 'Clearbit')")
    con.execute(f"""INSERT INTO {raw_name('accounts')} (account_id, name, domain, industry, employees, _import_id)
        VALUES ('C1', 'Acme', 'https://www.Acme.com/', 'Software', NULL, 1),
               ('acme.com', 'Acme Inc', 'acme.com', 'Computer Software', 250, 2),
               ('zeta.io', 'Zeta', 'zeta.io', 'Retail', 40, 2)""")
    con.execute(f"""INSERT INTO {raw_name('leads')} (lead_id, email, account_id) VALUES
        ('L1', 'ana@acme.com', NULL), ('L2', 'bob@gmail.com', NULL), ('L3', 'cy@zeta.io', 'C9')""")
    con.execute(f"""INSERT INTO {raw_name('intent_signals')} (account_id, topic, score, surge, observed_at) VALUES
        ('ACME.com', 'Sales Funnel', 72, NULL, '2024-03-11'), ('acme.com', 'CRM', 40, NULL, '2024-03-11')""")
    identity = dataclasses.replace(SETTINGS.identity, enrichment_wins=enrichment_wins)
    rebuild_identity(con, settings=dataclasses.replace(SETTINGS, identity=identity))
    return con


def test_enrichment_fills_the_crm_account_by_domain_and_the_crm_value_stays():
    con = enrichment_store()
    accounts = frame(con, "SELECT account_id, name, industry, employees FROM accounts ORDER BY account_id")
    assert accounts.rows() == [("C1", "Acme", "Software", 250), ("zeta.io", "Zeta", "Retail", 40)]
    assert frame(con, "SELECT industry FROM accounts WHERE account_id = 'C1'").item() == "Software"
    con = enrichment_store(enrichment_wins=True)
    assert frame(con, "SELECT industry FROM accounts WHERE account_id = 'C1'").item() == "Computer Software"


def test_an_email_domain_reaches_the_account_only_where_no_account_id_is_given_and_never_free_mail():
    con = enrichment_store()
    assert dict(con.execute("SELECT lead_id, account_id FROM leads").fetchall()) == {
        "L1": "C1", "L2": None, "L3": "C9"}


def test_intent_rows_reach_the_account_and_its_leads_with_their_topics():
    con = enrichment_store()
    signals = frame(con, "SELECT account_id, topic, surge FROM intent_signals ORDER BY topic")
    assert signals.rows() == [("C1", "CRM", False), ("C1", "Sales Funnel", True)]  # score 72 ≥ 60 surges
    explained = intent_explanation(con, "L1", settings=SETTINGS, as_of=date(2024, 3, 31))
    surge = explained.filter(pl.col("kind") == "account surge")
    assert surge.height == 1 and "Sales Funnel 72" in surge.item(0, "note")


# ------------------------------------------------------------------------------ importing, presets


def test_an_export_with_no_person_key_is_refused_naming_the_columns_it_would_need():
    rows = pl.DataFrame({"event": ["x"], "time": ["2024-03-01"], sc.SOURCE_ROW: [2]})
    mapping = mapping_from_text('[[file]]\ntable = "activities"\n[file.columns]\nevent = "activity_type"\n'
                                'time = "occurred_at"\n')
    with pytest.raises(ValidationError) as caught:
        canonical_import(rows, mapping.files[0], file_name="events.csv", settings=SETTINGS)
    assert "no person key" in str(caught.value) and "e-mail" in str(caught.value.hint)


def test_a_canonical_activities_file_with_an_email_column_keeps_it_as_an_identity_row():
    rows = pl.DataFrame({"lead_id": ["P1"], "activity_type": ["page_view"], "occurred_at": ["2024-03-01"],
                         "email": ["Ana@Acme.com"], sc.SOURCE_ROW: [2]})
    prepared = canonical_import(rows, identity_section("activities"), file_name="a.csv", settings=SETTINGS)
    links = prepared.derived[sc.IDENTITY_LINKS.name]
    assert links.select(sc.TOOL_ID, sc.KEY_KIND, sc.KEY_VALUE).rows() == [("P1", "email", "Ana@Acme.com")]
    assert not any("email" in w for w in prepared.warnings)


@pytest.fixture(scope="module")
def three_tools():
    """HubSpot contacts + Klaviyo events + a Mixpanel export (anonymous, then identified devices)."""
    con = memory_connection()
    results = [write_import(con, prepare_import(FIXTURES / name))
               for name in ("hubspot_contacts.csv", "klaviyo_events.csv", "mixpanel_events.csv")]
    rebuild_identity(con)
    return con, results


def test_three_tools_place_every_contact_and_add_no_phantom_leads(three_tools):
    con, _ = three_tools
    report = leads_report(con, settings=SETTINGS, as_of=date(2024, 3, 31))
    assert dict(report.select("lead_id", "funnel_stage").rows()) == {
        "901": "intent", "902": "interest", "903": "awareness", "904": "awareness"}
    assert con.execute("SELECT count(*) FROM leads").fetchall() == [(4,)]
    assert {r[0] for r in con.execute("SELECT DISTINCT lead_id FROM activities").fetchall()} == {"901", "902"}


def test_three_tools_say_per_file_what_matched_by_which_key(three_tools):
    con, _ = three_tools
    lines = [match_summary(r) for r in identity_matches(con).iter_rows(named=True)]
    assert lines == [
        "klaviyo_events.csv → activities: 4 of 6 rows matched (4 by e-mail); 2 people match no lead (2 rows)",
        ("mixpanel_events.csv → activities: 4 of 6 rows matched (2 by e-mail, 2 by device); 1 person matches no "
         "lead (1 row); 1 anonymous id never linked to a person (1 row)")]
    unmatched = unmatched_people(con).select("person_id", "reason").rows()
    assert unmatched == [("01KJUNK", "matches no lead by id, e-mail or alias"),
                         ("01KZOE", "matches no lead by id, e-mail or alias"),
                         ("$device:d-stray", "anonymous id, never linked to a person"),
                         ("u-77", "matches no lead by id, e-mail or alias")]


def test_removing_an_export_takes_its_matches_out_and_keeps_the_others(tmp_path):
    con = memory_connection()
    ids = [write_import(con, prepare_import(FIXTURES / name)).import_id
           for name in ("hubspot_contacts.csv", "klaviyo_events.csv", "mixpanel_events.csv")]
    rebuild_identity(con)
    remove_import(con, ids[2])
    rebuild_identity(con)
    assert identity_matches(con).get_column("file_name").to_list() == ["klaviyo_events.csv"]
    assert con.execute("SELECT count(*) FROM activities WHERE lead_id = '901'").fetchall() == [(3,)]


def test_zoho_deals_join_their_contact_by_unique_name_and_their_account_by_name():
    con = memory_connection()
    presets = Path(__file__).parent / "fixtures" / "presets"
    for name in ("zoho_leads.csv", "zoho_deals.csv"):
        write_import(con, prepare_import(presets / name))
    con.execute(f"INSERT INTO {raw_name('accounts')} (account_id, name) VALUES ('A-1', 'Zylker')")
    rebuild_identity(con)
    deals = {r[0]: r[1:] for r in con.execute("SELECT deal_id, lead_id, account_id FROM deals").fetchall()}
    assert deals["4876876000000422001"] == ("4876876000000411001", "A-1")  # Arun Kumar at Zylker
    assert deals["4876876000000422002"] == ("4876876000000411002", "Zoyo")  # Mia Wong; no Zoyo account
    assert "by name" in match_summary(identity_matches(con).row(0, named=True))


# ------------------------------------------------------------------------------ property


PEOPLE = [("L1", "ana@acme.com"), ("L2", "ben@beta.io"), ("L3", "cy@gamma.org")]
TYPES = ["page_view", "form_fill", "case_study_view", "pricing_page_view", "email_click", "demo_request"]


def stages_and_scores(con) -> list[tuple]:
    report = leads_report(con, settings=SETTINGS, as_of=date(2024, 4, 30))
    return sorted(report.select("lead_id", "funnel_stage", pl.col("intent_score").round(6), "fit_score").rows())


@hsettings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(touches=st.lists(st.tuples(st.integers(0, 2), st.sampled_from(TYPES), st.integers(0, 40),
                                  st.integers(0, 3)), min_size=1, max_size=25))
def test_rows_split_across_tool_files_give_the_same_stages_and_scores_as_one_canonical_file(touches):
    leads = [lead(i, e, datetime(2024, 3, 1)) for i, e in PEOPLE]
    canonical = [touch(PEOPLE[p][0], n, kind, datetime(2024, 3, 1 + day % 28, 10))
                 for n, (p, kind, day, _) in enumerate(touches)]
    one = raw_store(leads=leads, activities=canonical)
    split_rows, links = [], []
    for n, (p, kind, day, tool) in enumerate(touches):  # tool 0: CRM id, 1: e-mail profile, 2: device, 3: email id
        lead_id, email = PEOPLE[p]
        tool_id = [lead_id, f"K-{p}", f"$device:{p}", email.upper()][tool]
        split_rows.append(touch(tool_id, n, kind, datetime(2024, 3, 1 + day % 28, 10)) | {sc.IMPORT_ID: tool + 1})
        links += {1: [link(tool_id, "email", email)],
                  2: [link(tool_id, "device", f"d{p}"), link(tool_id, "anonymous", "device"),
                      link(f"user-{p}", "device", f"d{p}"), link(f"user-{p}", "email", email)]}.get(tool, [])
    split = raw_store(leads=leads, activities=split_rows, identity_links=list({tuple(x.items()): x
                                                                                for x in links}.values()))
    assert stages_and_scores(split) == stages_and_scores(one)


def test_the_cli_reports_each_files_matches_and_the_people_missing_from_the_crm(tmp_path, capsys):
    from funnel.cli.main import main

    db = tmp_path / "f.duckdb"
    files = [str(FIXTURES / n) for n in ("hubspot_contacts.csv", "klaviyo_events.csv", "mixpanel_events.csv")]
    assert main(["import", "--db", str(db), *files]) == 0
    out = capsys.readouterr().out
    assert "  people: klaviyo_events.csv → activities: 4 of 6 rows matched (4 by e-mail)" in out
    assert main(["hygiene", "--db", str(db), "--out", str(tmp_path / "audit")]) == 0
    out = capsys.readouterr().out
    assert "known to another tool, missing from the CRM: 3 (2 with intent evidence, 3 rows)" in out
    behind = pl.read_csv(tmp_path / "audit" / "people_across_tools.csv", infer_schema=False)
    assert sorted(behind.get_column("key").to_list()) == ["01KJUNK", "01KZOE", "u-77"]
    assert main(["info", "--db", str(db)]) == 0
    assert "people across tools" in capsys.readouterr().out
