"""Vendor presets: every export shape is recognised from its header alone and imports canonically.

Also the mapping features the presets rely on: row filters, null values, one column feeding several,
optional stage dates, value maps to empty, URL rules and the tool's own event name.
"""

from __future__ import annotations

import csv
import os
from datetime import datetime
from functools import partial
from pathlib import Path

import polars as pl
import pytest

import funnel.ingest.importer as importer_module
from funnel import schema as sc
from funnel.config import default_settings
from funnel.errors import MappingError
from funnel.ingest.importer import canonical_import, prepare_import, write_import
from funnel.ingest.mapping import identity_section, mapping_from_text
from funnel.ingest.presets import PRESET_DIR, all_presets, recognised_preset
from funnel.ingest.readers import read_export
from funnel.ingest.sample import write_sample
from funnel.model.identity import rebuild_identity
from funnel.store.db import memory_connection

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "presets"
SHARED = Path(os.environ.get("FUNNEL_SHARED") or Path(__file__).resolve().parents[2] / "shared")
HUBSPOT_HEADERS = SHARED / "data" / "real" / "hubspot-export-headers"


@pytest.fixture(autouse=True)
def parse_in_process(monkeypatch, request):
    """The fixtures are trusted: read them in-process (the worker costs a Python start per file).
    `test_a_preset_import_goes_through_the_worker` keeps the real path covered."""
    if "through_the_worker" in request.node.name:
        return

    def read(path, *, name=None, sheet=None, header_row=None, **_):
        return read_export(Path(path), name=name or Path(path).name, sheet=sheet, header_row=header_row)
    monkeypatch.setattr("funnel.ingest.importer.prepared_in_worker", partial(importer_module.prepared_here, parse=read))


def header_of(path: Path) -> list[str]:
    with open(path, encoding="utf-8", newline="") as fh:
        return next(csv.reader(fh))


def rows(con, table: str, order: str) -> list[dict]:
    """The rows the importer stored (the raw tables, before identity resolution)."""
    cur = con.execute(f"SELECT * EXCLUDE (_import_id, _source_row) FROM raw.{table} ORDER BY {order}")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def imported(name: str):
    """The fixture prepared without naming a preset, written into a fresh store."""
    con = memory_connection()
    prepared = prepare_import(FIXTURES / name)
    result = write_import(con, prepared)
    return con, prepared, result


def dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --------------------------------------------------------------------------- fixture -> preset, table
CASES = [
    # (fixture, preset file, table)
    ("hubspot_contacts_2019.csv", "hubspot", "leads"),
    ("hubspot_contacts_record_id.csv", "hubspot", "leads"),
    ("hubspot_companies_2019.csv", "hubspot", "accounts"),
    ("hubspot_companies_record_id.csv", "hubspot", "accounts"),
    ("hubspot_deals_2019.csv", "hubspot", "deals"),
    ("hubspot_deals_record_id.csv", "hubspot", "deals"),
    ("salesforce_report_leads.csv", "salesforce", "leads"),
    ("salesforce_report_lead_history.csv", "salesforce", "stage_events"),
    ("salesforce_report_contacts.csv", "salesforce", "leads"),
    ("salesforce_report_accounts.csv", "salesforce", "accounts"),
    ("salesforce_report_opportunities.csv", "salesforce", "deals"),
    ("salesforce_dataloader_lead.csv", "salesforce", "leads"),
    ("salesforce_dataloader_leadhistory.csv", "salesforce", "stage_events"),
    ("salesforce_dataloader_contact.csv", "salesforce", "leads"),
    ("salesforce_dataloader_account.csv", "salesforce", "accounts"),
    ("salesforce_dataloader_opportunity.csv", "salesforce", "deals"),
    ("pipedrive_deals.csv", "pipedrive", "deals"),
    ("pipedrive_persons.csv", "pipedrive", "leads"),
    ("pipedrive_organizations.csv", "pipedrive", "accounts"),
    ("pipedrive_activities.csv", "pipedrive", "activities"),
    ("zoho_leads.csv", "zoho_crm", "leads"),
    ("zoho_deals.csv", "zoho_crm", "deals"),
    ("marketo_bulk_activities.csv", "marketo", "activities"),
    ("marketo_activities.csv", "marketo", "activities"),
    ("activecampaign_activities.csv", "activecampaign", "activities"),
    ("customerio_activities.csv", "customerio", "activities"),
    ("klaviyo_events.csv", "klaviyo", "activities"),
    ("mixpanel_events.csv", "mixpanel", "activities"),
    ("amplitude_events.csv", "amplitude", "activities"),
    ("heap_events.csv", "heap", "activities"),
    ("posthog_events.csv", "posthog", "activities"),
    ("clearbit_companies.csv", "clearbit", "accounts"),
    ("zoominfo_contacts.csv", "zoominfo", "leads"),
    ("zoominfo_companies.csv", "zoominfo", "accounts"),
    ("apollo_people.csv", "apollo", "leads"),
    ("apollo_companies.csv", "apollo", "accounts"),
    ("sixsense_accounts.csv", "sixsense", "intent_signals"),
    ("demandbase_intent.csv", "demandbase", "intent_signals"),
    ("bombora_surge.csv", "bombora", "intent_signals"),
]


@pytest.mark.parametrize(("fixture", "preset", "table"), CASES, ids=[c[0] for c in CASES])
def test_fixture_is_recognised_from_its_header_and_imports_into_its_table(fixture, preset, table):
    recognised = recognised_preset(header_of(FIXTURES / fixture))
    assert recognised is not None, f"{fixture} is recognised by no preset"
    mapping, section = recognised
    assert mapping.source == f"{preset}.toml"
    assert section.table == table
    con, prepared, result = imported(fixture)
    assert prepared.table == table and prepared.mapping_name == mapping.name
    assert result.status == "imported" and result.rows > 0
    assert con.execute(f"SELECT count(*) FROM raw.{table}").fetchone()[0] == result.rows
    again = write_import(con, prepare_import(FIXTURES / fixture))
    assert again.status == "unchanged" and again.import_id == result.import_id
    assert con.execute(f"SELECT count(*) FROM raw.{table}").fetchone()[0] == result.rows


def test_a_preset_import_goes_through_the_worker():
    con = memory_connection()
    result = write_import(con, prepare_import(FIXTURES / "hubspot_deals_2019.csv"))
    assert (result.table, result.rows, result.status) == ("deals", 3, "imported")


def test_every_preset_has_a_fixture_and_every_fixture_is_documented():
    stems = {p.stem for p in PRESET_DIR.glob("*.toml")}
    assert stems == {c[1] for c in CASES}
    files = {p.name for p in FIXTURES.glob("*.csv")}
    assert files == {c[0] for c in CASES}
    readme = (FIXTURES / "README.md").read_text(encoding="utf-8")
    for stem in stems:
        assert f"| {stem} |" in readme


def test_every_preset_section_is_recognised_by_its_own_fixture():
    seen = {(m.source, i) for c in CASES
            for m, s in [recognised_preset(header_of(FIXTURES / c[0]))]
            for i, f in enumerate(m.files) if f is s}
    every = {(m.source, i) for m in all_presets() for i in range(len(m.files))}
    assert seen == every


def test_no_two_sections_share_a_match_and_every_section_has_one():
    matches = [(m.source, f.match) for m in all_presets() for f in m.files]
    assert all(match for _, match in matches)
    assert len({frozenset(match) for _, match in matches}) == len(matches)


def test_url_rules_and_stage_dates_name_canonical_types_and_stages():
    for m in all_presets():
        for f in m.files:
            for rule in f.url_rules:
                assert rule.activity_type in sc.CANONICAL_ACTIVITY_TYPES, (m.source, rule)
                assert all(w in sc.CANONICAL_ACTIVITY_TYPES for w in rule.when), (m.source, rule)
            for sd in f.stage_dates:
                assert sd.stage in sc.LIFECYCLE_STAGES


def test_canonical_files_are_not_taken_for_a_vendor_export(tmp_path):
    paths = write_sample(tmp_path, leads=30, seed=3)
    for table, path in paths.items():
        assert recognised_preset(header_of(path)) is None, table
        prepared = prepare_import(path)
        assert prepared.table == table and prepared.mapping_name == ""


@pytest.mark.skipif(not HUBSPOT_HEADERS.is_dir(), reason=f"real HubSpot header rows not found under {SHARED}")
def test_real_hubspot_header_rows_are_recognised():
    expected = {"hubspot_contacts_export_header_2019.csv": "leads",
                "hubspot_companies_export_header_2019.csv": "accounts",
                "hubspot_deals_export_header_2019.csv": "deals"}
    for name, table in expected.items():
        mapping, section = recognised_preset(header_of(HUBSPOT_HEADERS / name))
        assert (mapping.source, section.table) == ("hubspot.toml", table)


# ------------------------------------------------------------------------------ canonical values
def test_hubspot_contacts_lifecycle_dates_owner_and_attributes():
    con, _, _ = imported("hubspot_contacts_2019.csv")
    leads = {r["lead_id"]: r for r in rows(con, "leads", "lead_id")}
    ada = leads["1001"]
    assert (ada["email"], ada["name"], ada["title"], ada["account_id"], ada["company"]) == (
        "ada@example.com", "Ada Lovelace", "VP Operations", "501", "Analytical Engines")
    assert (ada["lifecycle_stage"], ada["source"], ada["owner"], ada["lead_status"]) == (
        "mql", "Organic Search", "Sam Seller", "OPEN")
    assert ada["created_at"] == dt("2019-07-01 09:15")
    assert ada["last_engagement_at"] == dt("2019-07-25 16:00")
    assert ada["next_action_at"] == dt("2019-08-01 09:00")
    assert (ada["industry"], ada["employees"], ada["country"]) == ("Manufacturing", 75, "United Kingdom")
    assert ada["attributes"]["HubSpot Score"] == "42"
    assert ada["attributes"]["Do you have a showroom?"] == "Yes"
    assert leads["1002"]["lifecycle_stage"] == "sql"
    assert leads["1003"]["lifecycle_stage"] == "customer" and leads["1003"]["employees"] == 1001
    assert leads["1003"]["attributes"]["Became an Evangelist Date"] == "2019-06-01 09:00"
    events = {(r["lead_id"], r["stage"]): r["entered_at"] for r in rows(con, "stage_events", "lead_id, entered_at")}
    assert events == {
        ("1001", "subscriber"): dt("2019-07-01 09:15"), ("1001", "lead"): dt("2019-07-02 10:00"),
        ("1001", "mql"): dt("2019-07-24 10:31"),
        ("1002", "lead"): dt("2019-06-03 08:00"), ("1002", "mql"): dt("2019-06-10 12:00"),
        ("1002", "sql"): dt("2019-06-20 14:30"),  # ISO with Z: the zone is dropped, not shifted
        ("1003", "lead"): dt("2019-01-15 11:00"), ("1003", "opportunity"): dt("2019-03-01 10:00"),
        ("1003", "customer"): dt("2019-04-02 15:45"),
    }
    assert all(r["ladder"] == "lifecycle" for r in rows(con, "stage_events", "lead_id"))


def test_hubspot_record_id_contacts_companies_and_deals():
    con, _, _ = imported("hubspot_contacts_record_id.csv")
    leads = {r["lead_id"]: r for r in rows(con, "leads", "lead_id")}
    assert (leads["901"]["company"], leads["901"]["country"], leads["901"]["owner"]) == ("Durand SA", "France",
                                                                                          "Inès Moreau")
    assert leads["902"]["lifecycle_stage"] == "mql" and leads["902"]["created_at"] == dt("2024-03-13 10:00")
    con, _, _ = imported("hubspot_companies_2019.csv")
    acc = rows(con, "accounts", "account_id")[0]
    assert (acc["account_id"], acc["name"], acc["domain"], acc["employees"], acc["annual_revenue"], acc["owner"]) == (
        "501", "Analytical Engines", "engines.example.com", 80, 12_000_000.0, "Sam Seller")
    assert acc["attributes"]["Lifecycle Stage"] == "opportunity"
    con, _, _ = imported("hubspot_companies_record_id.csv")
    acc = rows(con, "accounts", "account_id")[0]
    assert (acc["account_id"], acc["name"], acc["domain"], acc["country"], acc["employees"]) == (
        "9001", "Durand SA", "durand.example", "France", 35)


def test_hubspot_deals_with_the_duplicate_deal_stage_column():
    con, prepared, _ = imported("hubspot_deals_2019.csv")
    assert "Deal Stage (2)" in prepared.unmapped
    deals = {r["deal_id"]: r for r in rows(con, "deals", "deal_id")}
    won = deals["7001"]
    assert (won["stage"], won["won"], won["amount"], won["lead_id"], won["account_id"], won["owner"]) == (
        "Closed Won", True, 25_000.0, "1003", "501", "Sam Seller")
    assert won["closed_at"] == dt("2019-04-02 15:45") and won["pipeline"] == "Sales Pipeline"
    assert won["attributes"]["Deal Stage (2)"] == "closedwon"
    assert won["attributes"]["Closed Won Reason"] == "Best fit"
    assert (deals["7002"]["won"], deals["7002"]["lost_reason"]) == (False, "No budget")
    assert deals["7003"]["won"] is None
    con, _, _ = imported("hubspot_deals_record_id.csv")
    deals = {r["deal_id"]: r for r in rows(con, "deals", "deal_id")}
    assert (deals["8801"]["won"], deals["8801"]["amount"], deals["8801"]["account_id"]) == (True, 4200.5, "9001")


def test_salesforce_reports_us_dates_conversion_and_lead_history():
    con, _, _ = imported("salesforce_report_leads.csv")
    leads = {r["lead_id"]: r for r in rows(con, "leads", "lead_id")}
    lin = leads["00Q5g00000AbCdE"]
    assert (lin["lifecycle_stage"], lin["lead_status"], lin["source"], lin["owner"], lin["company"]) == (
        "sql", "Closed - Converted", "Web", "Pat Rep", "Acme")
    assert lin["created_at"] == dt("2024-03-05 14:05")
    omar = leads["00Q5g00000AbCdF"]
    assert (omar["lifecycle_stage"], omar["employees"], omar["created_at"]) == ("lead", 1200, dt("2023-12-15"))
    stages = [(r["lead_id"], r["stage"], r["entered_at"]) for r in rows(con, "stage_events", "entered_at")]
    assert stages == [("00Q5g00000AbCdF", "lead", dt("2023-12-15")),
                      ("00Q5g00000AbCdE", "lead", dt("2024-03-05 14:05")),
                      ("00Q5g00000AbCdE", "sql", dt("2024-03-20"))]
    con, prepared, _ = imported("salesforce_report_lead_history.csv")
    assert any("2 row(s) were left out" in w for w in prepared.warnings)  # creation and a Rating change
    history = [(r["lead_id"], r["ladder"], r["stage"], r["entered_at"])
               for r in rows(con, "stage_events", "entered_at")]
    assert history == [("00Q5g00000AbCdE", "lifecycle", "lead", dt("2024-03-06 09:00")),
                       ("00Q5g00000AbCdE", "lifecycle", "sql", dt("2024-03-20 16:30"))]
    con, _, _ = imported("salesforce_report_opportunities.csv")
    deals = {r["deal_id"]: r for r in rows(con, "deals", "deal_id")}
    assert (deals["0065g00000AaBbC"]["won"], deals["0065g00000AaBbC"]["amount"]) == (True, 30_000.0)
    assert deals["0065g00000AaBbD"]["won"] is None  # open, although its "Won" column says 0
    assert deals["0065g00000AaBbD"]["attributes"]["Won"] == "0"


def test_salesforce_data_loader_exports():
    con, _, _ = imported("salesforce_dataloader_lead.csv")
    lin = {r["lead_id"]: r for r in rows(con, "leads", "lead_id")}["00Q5g00000AbCdEEAV"]
    assert (lin["lifecycle_stage"], lin["account_id"], lin["owner"]) == ("sql", "0015g00000QwErTAAZ",
                                                                         "0055g00000UsEr1AAB")
    assert lin["created_at"] == dt("2024-03-05 14:05")
    assert lin["attributes"]["ConvertedOpportunityId"] == "0065g00000AaBbCAAW"
    con, _, _ = imported("salesforce_dataloader_leadhistory.csv")
    assert [r["stage"] for r in rows(con, "stage_events", "entered_at")] == ["lead", "sql"]
    con, _, _ = imported("salesforce_dataloader_opportunity.csv")
    deals = {r["deal_id"]: r for r in rows(con, "deals", "deal_id")}
    assert (deals["0065g00000AaBbCAAW"]["won"], deals["0065g00000AaBbCAAW"]["lead_id"]) == (True,
                                                                                            "0035g00000XyZaBAAV")
    assert deals["0065g00000AaBbDAAW"]["won"] is False
    con, _, _ = imported("salesforce_dataloader_account.csv")
    acc = rows(con, "accounts", "account_id")[0]
    assert (acc["name"], acc["employees"], acc["annual_revenue"], acc["country"]) == ("Acme", 250, 45e6, "US")


def test_pipedrive_status_decides_won_and_only_done_activities_are_touches():
    con, _, _ = imported("pipedrive_deals.csv")
    deals = {r["deal_id"]: r for r in rows(con, "deals", "deal_id")}
    assert [deals[k]["won"] for k in ("101", "102", "103")] == [True, False, None]
    assert (deals["101"]["lead_id"], deals["101"]["account_id"], deals["101"]["amount"]) == ("41", "31", 15_000.0)
    assert deals["102"]["closed_at"] == dt("2024-03-01 12:00") and deals["103"]["closed_at"] is None
    assert deals["102"]["lost_reason"] == "Went with competitor"
    assert deals["101"]["attributes"]["Deal - Won time"] == "2024-02-15 10:30:00"
    con, prepared, _ = imported("pipedrive_activities.csv")
    assert any("1 row(s) were left out" in w for w in prepared.warnings)  # the activity not done
    acts = [(r["activity_id"], r["activity_type"], r["source_type"]) for r in rows(con, "activities", "occurred_at")]
    assert acts == [("3001", "sales_touch", "Call"), ("3002", "meeting_booked", "Meeting")]
    con, _, _ = imported("pipedrive_persons.csv")
    karin = rows(con, "leads", "lead_id")[0]
    assert (karin["name"], karin["email"], karin["title"], karin["account_id"]) == (
        "Karin Berg", "karin@nordic.example", "Head of Operations", "31")


def test_zoho_leads_and_deals():
    con, _, _ = imported("zoho_leads.csv")
    leads = {r["lead_id"]: r for r in rows(con, "leads", "lead_id")}
    arun = leads["4876876000000411001"]
    assert (arun["title"], arun["source"], arun["lead_status"], arun["employees"]) == (
        "Procurement Manager", "Web Download", "Contacted", 150)
    assert leads["4876876000000411002"]["created_at"] == dt("2024-02-03 09:30")
    con, _, _ = imported("zoho_deals.csv")
    deals = {r["deal_id"]: r for r in rows(con, "deals", "deal_id")}
    assert [d["won"] for d in deals.values()] == [True, False, None]
    assert deals["4876876000000422002"]["lost_reason"] == "Price"


ACTIVITY_TYPES = {
    "marketo_bulk_activities.csv": ["pricing_page_view", "form_fill", "email_open", "email_click", "104"],
    "marketo_activities.csv": ["case_study_view", "demo_request", "email_open"],
    "activecampaign_activities.csv": ["email_open", "email_click", "pricing_page_view"],
    "customerio_activities.csv": ["integration_page_view", "email_open"],
    "klaviyo_events.csv": ["email_open", "comparison_page_view"],
    "mixpanel_events.csv": ["pricing_page_view", "trial_signup"],
    "amplitude_events.csv": ["product_page_view", "demo_request", "pricing_page_view"],
    "heap_events.csv": ["pricing_page_view", "content_view", "signup_click_cta"],
    "posthog_events.csv": ["pricing_page_view", "page_view", "demo_request"],
}


@pytest.mark.parametrize("fixture", sorted(ACTIVITY_TYPES))
def test_event_names_and_urls_become_canonical_activity_types(fixture):
    con, _, _ = imported(fixture)
    got = [r["activity_type"] for r in rows(con, "activities", "occurred_at, activity_id")]
    assert got == ACTIVITY_TYPES[fixture]


def test_event_exports_keep_the_tools_own_names_and_ids():
    con, prepared, _ = imported("posthog_events.csv")
    acts = rows(con, "activities", "occurred_at")
    assert [a["source_type"] for a in acts] == ["$pageview", "$pageview", "form submitted"]
    assert [a["activity_id"] for a in acts] == ["018e2a10-0001", "018e2a10-0002", "018e2a10-0004"]
    assert {a["lead_id"] for a in acts} == {"ph-user-1"}
    assert any("left out" in w for w in prepared.warnings)  # the $identify row
    con, _, _ = imported("mixpanel_events.csv")
    first = rows(con, "activities", "occurred_at")[0]
    assert first["occurred_at"] == dt("2024-03-06 09:00:00")  # Unix seconds, UTC
    assert (first["campaign"], first["url"]) == ("spring", "https://example.com/pricing")
    con, _, _ = imported("amplitude_events.csv")
    assert {r["lead_id"] for r in rows(con, "activities", "occurred_at")} == {"user-9", "dev-2"}  # device kept
    rebuild_identity(con)
    assert con.execute("SELECT DISTINCT lead_id FROM activities").fetchall() == [("user-9",)]  # anonymous: no lead


def test_enrichment_exports():
    con, _, _ = imported("clearbit_companies.csv")
    acme = rows(con, "accounts", "account_id")[0]
    assert (acme["account_id"], acme["domain"], acme["industry"], acme["employees"], acme["annual_revenue"]) == (
        "acme.example", "acme.example", "Internet Software & Services", 250, 45e6)
    assert acme["attributes"]["metrics.estimatedAnnualRevenue"] == "$10M-$50M"
    con, _, _ = imported("zoominfo_contacts.csv")
    noor = rows(con, "leads", "lead_id")[0]
    assert (noor["title"], noor["account_id"], noor["industry"], noor["employees"], noor["country"]) == (
        "Chief Financial Officer", "98765", "Finance", 600, "United States")
    con, _, _ = imported("apollo_people.csv")
    rosa = rows(con, "leads", "lead_id")[0]
    assert (rosa["lead_id"], rosa["account_id"], rosa["title"], rosa["employees"], rosa["lead_status"]) == (
        "64a1c0ffee01", "5f2b0badc0de", "Director of Marketing", 480, "Cold")
    con, _, _ = imported("apollo_companies.csv")
    assert rows(con, "accounts", "account_id")[0]["domain"] == "umbrella.example"


def test_intent_exports():
    con, _, _ = imported("sixsense_accounts.csv")
    got = [(r["account_id"], r["topic"], r["score"], r["surge"]) for r in rows(con, "intent_signals", "account_id")]
    assert got == [("acme.example", "lead scoring", 88.0, True), ("globex.example", "crm migration", 31.0, False)]
    con, _, _ = imported("demandbase_intent.csv")
    got = [(r["topic"], r["score"], r["surge"]) for r in rows(con, "intent_signals", "topic")]
    assert got == [("lead routing", 20.0, False), ("marketing automation", 80.0, True)]
    con, _, _ = imported("bombora_surge.csv")
    got = [(r["account_id"], r["topic"], r["score"], r["observed_at"]) for r in rows(con, "intent_signals", "score")]
    assert got == [("globex.example", "Lead Generation", 55.0, dt("2024-03-11")),
                   ("acme.example", "Sales Funnel", 72.0, dt("2024-03-11"))]


# ------------------------------------------------------------------- mapping features (unit tests)
def section(text: str):
    return mapping_from_text(text, source="test").files[0]


def run(frame: pl.DataFrame, text: str):
    frame = frame.with_columns(pl.Series(sc.SOURCE_ROW, range(2, frame.height + 2), dtype=pl.Int64))
    return canonical_import(frame, section(text), file_name="t.csv", settings=default_settings())


def test_one_source_column_can_feed_several_canonical_columns():
    out = run(pl.DataFrame({"account": ["Acme", "Beta"]}),
              '[[file]]\ntable = "accounts"\n[file.columns]\naccount = ["account_id", "name"]\n').frame
    assert out.select("account_id", "name").rows() == [("Acme", "Acme"), ("Beta", "Beta")]
    with pytest.raises(MappingError):
        section('[[file]]\ntable = "accounts"\n[file.columns]\naccount = ["account_id", "nope"]\n')


def test_null_values_empty_cells_in_every_column_including_attributes():
    out = run(pl.DataFrame({"id": ["1", "2"], "city": ["Select", "Pune"], "country": [" select ", "India"]}),
              '[[file]]\ntable = "leads"\nnull_values = ["Select"]\n[file.columns]\nid = "lead_id"\n'
              'country = "country"\n').frame
    assert out.get_column("country").to_list() == [None, "India"]
    assert [{e["key"]: e["value"] for e in a} for a in out.get_column("attributes").to_list()] == [
        {}, {"city": "Pune"}]


def test_row_filters_keep_and_leave_out_rows_and_skip_missing_columns():
    frame = pl.DataFrame({"uid": ["a", "", "c", "d"], "event": ["x", "x", "$identify", "y"],
                          "at": ["2024-01-01"] * 4})
    text = ('[[file]]\ntable = "activities"\n[file.where_not]\nuid = [""]\nevent = ["$IDENTIFY"]\n'
            '[file.where]\nmissing = ["z"]\n[file.columns]\nuid = "lead_id"\nevent = "activity_type"\n'
            'at = "occurred_at"\n')
    prepared = run(frame, text)
    assert prepared.frame.get_column("lead_id").to_list() == ["a", "d"]
    assert prepared.frame.get_column(sc.SOURCE_ROW).to_list() == [2, 5]
    assert any("2 row(s) were left out" in w for w in prepared.warnings)
    assert any("'missing' was skipped" in w for w in prepared.warnings)


def test_a_value_mapped_to_empty_is_empty_and_unmapped_values_are_kept():
    frame = pl.DataFrame({"id": ["1", "2", "3"], "status": ["won", "open", "lost"], "st": ["A", "B", "C"]})
    out = run(frame, '[[file]]\ntable = "deals"\n[file.columns]\nid = "deal_id"\nstatus = "won"\nst = "stage"\n'
                     '[file.values.won]\nwon = "true"\nlost = "false"\nopen = ""\n[file.values.stage]\na = "Alpha"\n'
              ).frame
    assert out.get_column("won").to_list() == [True, None, False]
    assert out.get_column("stage").to_list() == ["Alpha", "B", "C"]


def test_optional_stage_dates_are_skipped_when_missing_and_required_ones_still_fail():
    frame = pl.DataFrame({"id": ["1"], "mql_at": ["2024-02-01"]})
    text = ('[[file]]\ntable = "leads"\n[file.columns]\nid = "lead_id"\n'
            '[[file.stage_dates]]\ncolumn = "mql_at"\nstage = "mql"\n'
            '[[file.stage_dates]]\ncolumn = "sql_at"\nstage = "sql"\n')
    with pytest.raises(MappingError, match="sql_at"):
        run(frame, text)
    prepared = run(frame, text + "optional = true\n")
    events = prepared.derived["stage_events"]
    assert events.select("lead_id", "stage", "entered_at").rows() == [("1", "mql", datetime(2024, 2, 1))]


def test_url_rules_refine_mapped_types_and_source_type_keeps_the_raw_name():
    frame = pl.DataFrame({"who": ["a"] * 4, "what": ["$pageview", "$pageview", "Form Sent", "$pageview"],
                          "url": ["https://x.io/Pricing", "https://x.io/blog", "https://x.io/demo", None],
                          "at": ["2024-01-01 10:00", "2024-01-01 10:01", "2024-01-01 10:02", "2024-01-01 10:03"]})
    text = ('[[file]]\ntable = "activities"\n[file.columns]\nwho = "lead_id"\nwhat = "activity_type"\n'
            'url = "url"\nat = "occurred_at"\n[file.values.activity_type]\n"$pageview" = "page_view"\n'
            '"form sent" = "form_fill"\n'
            '[[file.url_rules]]\ncontains = "/pricing"\nactivity_type = "pricing_page_view"\n'
            '[[file.url_rules]]\ncontains = "/demo"\nactivity_type = "demo_request"\nwhen = ["form_fill"]\n'
            '[[file.url_rules]]\ncontains = "/demo"\nactivity_type = "pricing_page_view"\n')
    out = run(frame, text).frame.sort("occurred_at")
    assert out.get_column("activity_type").to_list() == ["pricing_page_view", "page_view", "demo_request",
                                                         "page_view"]
    assert out.get_column("source_type").to_list() == ["$pageview", "$pageview", "Form Sent", "$pageview"]


def test_canonical_activities_keep_their_type_as_source_type():
    frame = pl.DataFrame({"lead_id": ["a"], "activity_type": ["Page View"], "occurred_at": ["2024-01-01"]})
    frame = frame.with_columns(pl.Series(sc.SOURCE_ROW, [2], dtype=pl.Int64))
    out = canonical_import(frame, identity_section("activities"), file_name="t.csv",
                           settings=default_settings()).frame
    assert out.select("activity_type", "source_type").rows() == [("page_view", "Page View")]
