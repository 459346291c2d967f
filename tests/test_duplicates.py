"""Given/expect tests of the hygiene matchers and normalisers, the survivor rule, the fix-file round
trip, and precision/recall of duplicate detection on the sample's planted duplicates and on a
hand-made messy HubSpot export."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as hst

from funnel import schema as sc
from funnel.analyses import duplicates as dup
from funnel.analyses.crm_audit import crm_audit
from funnel.analyses.fix_files import CRM_COLUMNS, fix_file, fix_file_bytes
from funnel.config import default_settings
from funnel.errors import FunnelError
from funnel.ingest.importer import prepare_import, write_import
from funnel.ingest.presets import recognised_preset
from funnel.ingest.sample import planted_duplicate_pairs, sample_tables
from funnel.model import materialised, records
from funnel.model import standardise as st
from funnel.model.build import ensure_model
from funnel.model.identity import rebuild_identity
from funnel.model.records import audit_inputs, company_records, person_records, standardisation_findings
from funnel.store.db import memory_connection, raw_tables
from tests.stores import store

FIXTURES = Path(__file__).parent / "fixtures"


def keys(expr, values):
    return pl.select(expr(pl.lit(pl.Series(values, dtype=pl.String)))).to_series().to_list()


# ------------------------------------------------------------------------------ normalisers

def test_email_key_drops_case_spaces_plus_tags_and_gmail_dots_only():
    got = keys(st.hygiene_email_key, [" Jon.Park+news@ACME.com ", "jon.park@acme.com", "j.o.n@gmail.com",
                                      "jon@googlemail.com", "jon@acme.com", "jan@acme.com", "no-at-sign", None])
    assert got == ["jon.park@acme.com", "jon.park@acme.com", "jon@gmail.com", "jon@gmail.com", "jon@acme.com",
                   "jan@acme.com", None, None]


def test_domain_key_drops_scheme_www_path_and_subdomains_but_keeps_country_second_levels():
    got = keys(st.hygiene_domain_key, ["https://www.Acme.com/about", "eu.shop.acme.co.uk", "acme.com:8080",
                                       "bob@mail.acme.com", "localhost", "acme.com.au"])
    assert got == ["acme.com", "acme.co.uk", "acme.com", "acme.com", None, "acme.com.au"]


def test_company_key_ignores_legal_forms_and_punctuation_but_not_real_words():
    got = keys(st.hygiene_company_key, ["ACME, Inc.", "Acme Inc", "The Acme Co.", "Acme Health", "Zoë & Søn GmbH",
                                        "Inc"])
    assert got == ["acme", "acme", "acme", "acme health", "zoe and son", "inc"]


def test_name_key_strips_accents_and_punctuation():
    assert keys(st.hygiene_name_key, ["María  López", "O'Brien, Łukasz", "  "]) == ["maria lopez", "o brien lukasz",
                                                                                     None]


def test_phone_key_is_e164_using_the_country_for_national_numbers():
    got = st.hygiene_phone_key(pl.Series(["(415) 555-2671", "+44 20 7946 0958", "020 7946 0958", "12", None]),
                               pl.Series(["US", None, "GB", "US", "US"]))
    assert got.to_list() == ["+14155552671", "+442079460958", "+442079460958", None, None]


def test_phone_national_never_starts_with_a_formula_trigger():
    got = st.phone_national(pl.Series(["+1 415 555 2671", "+44 20 7946 0958"]), pl.Series(["US", "US"]))
    assert got.to_list() == ["(415) 555-2671", None]  # a British number is not reformatted as American


def test_country_code_reads_names_codes_and_common_aliases():
    got = st.country_code(pl.Series(["United States", "usa", "U.S.", "DEU", "Deutschland", "England", "Narnia", None]))
    assert got.to_list() == ["US", "US", "US", "DE", "DE", "GB", None, None]
    assert st.country_name(pl.Series(["US", "DE"])).to_list() == ["United States", "Germany"]


def test_state_code_for_us_and_canada_only():
    got = st.state_code(pl.Series(["California", "ca", "Québec", "Ontario", "Bavaria", "Narnia"]),
                        pl.Series(["US", "US", "CA", "CA", "DE", "US"]))
    assert got.to_list() == ["CA", "CA", "QC", "ON", None, None]


def test_job_function_and_industry_on_one_list():
    titles = ["VP Marketing", "Director of IT", "Chief Financial Officer", "Software Engineer", "Intern"]
    assert keys(st.job_function_of, titles) == ["Marketing", "IT", "Finance", "Engineering", None]
    got = st.industry_of(pl.Series(["COMPUTER_SOFTWARE", "Hospital & Health Care", "Banking", "Helthcare", "Widgets"]))
    assert got.to_list() == ["Software", "Healthcare", "Financial Services", "Healthcare", None]


# ---------------------------------------------------------------------------------- matchers

def lead(i: str, email: str | None, name: str, **more) -> dict:
    return {sc.LEAD_ID: i, sc.EMAIL: email, sc.NAME: name, sc.CREATED_AT: datetime(2026, 1, int(i[-1]) + 1), **more}


def pairs_of(con, threshold=0.9):
    found = dup.person_duplicate_pairs(person_records(con), threshold=threshold)
    return {(a, b): e for a, b, e in found.select("id_l", "id_r", "evidence").iter_rows()}


FILLER = [lead(f"F{i}", f"person{i}@firm{i}.com", f"Filler Person{i}") for i in range(40)]


def test_people_match_on_email_key_initial_form_and_phone_but_not_near_misses():
    con = store(leads=[
        lead("L1", "Jon.Park+x@acme.com", "Jon Park"), lead("L2", "jon.park@acme.com", "Jon Park"),
        lead("L3", "jon@acme.com", "Jon Lee"), lead("L4", "jan@acme.com", "Jan Lee"),
        lead("L5", "p.shah@initech.com", "Priya Shah"), lead("L6", "priya.shah@initech.com", "Priya Shah"),
        lead("L7", "ana@gmail.com", "Ana Silva", phone="(415) 555-2671", country="US"),
        lead("L8", "ana.silva@yahoo.com", "Ana Silva", phone="+1 415 555 2671", country="US"),
        *FILLER])
    found = pairs_of(con)
    assert set(found) == {("L1", "L2"), ("L5", "L6"), ("L7", "L8")}
    assert "same e-mail" in found[("L1", "L2")]
    assert "initial form" in found[("L5", "L6")]
    assert "same phone" in found[("L7", "L8")]


def test_each_leads_match_keys_are_the_key_functions_of_its_own_fields():
    """The keys are computed once per distinct value, a domain once for the e-mails and the accounts that share
    it: each lead still gets exactly the key of its own fields."""
    con = store(accounts=[{sc.ACCOUNT_ID: "A1", sc.DOMAIN: "https://www.Acme.com/about"},
                          {sc.ACCOUNT_ID: "A2", sc.DOMAIN: "eu.shop.initech.co.uk"},
                          {sc.ACCOUNT_ID: "A3", sc.DOMAIN: None}],
                leads=[lead("L1", "jo@acme.com", "Jo Park", account_id="A1", company="Acme, Inc."),
                       lead("L2", "ann@gmail.com", "Ann Lee", account_id="A1", company="ACME"),
                       lead("L3", "raj@initech.co.uk", "Raj Rao", account_id="A2"),
                       lead("L4", "kim@gmail.com", "Kim Cho", account_id="A2"),
                       lead("L5", "no-address", "Lu Wei", account_id="A3"),
                       lead("L6", None, "Ann Lee")])
    got = person_records(con).sort(sc.LEAD_ID)
    assert got.get_column("org_domain").to_list() == ["acme.com", "acme.com", "initech.co.uk", "initech.co.uk",
                                                      None, None]
    expected = got.select(
        st.hygiene_name_key(pl.col(sc.NAME)).alias("name_key"),
        st.hygiene_company_key(pl.col(sc.COMPANY)).alias("company_key"),
        st.hygiene_domain_key(pl.col("account_domain")).alias("account_key"))
    assert got.select("name_key", "company_key").equals(expected.select("name_key", "company_key"))
    assert expected.get_column("account_key").to_list() == ["acme.com", "acme.com", "initech.co.uk",
                                                            "initech.co.uk", None, None]


def test_people_keyed_a_slice_at_a_time_are_the_people_keyed_at_once(monkeypatch):
    con = store(leads=[lead("L1", "Jon.Park+x@acme.com", "Jon Park", phone="(415) 555-2671", country="US",
                            account_id="A1"),
                       lead("L2", "ana@gmail.com", "Ana Silva", account_id="A1"), *FILLER],
                accounts=[{sc.ACCOUNT_ID: "A1", sc.DOMAIN: "www.acme.com"}])
    whole = person_records(con)
    monkeypatch.setattr(records, "PEOPLE_PER_SLICE", 7)
    assert person_records(con).equals(whole)


def test_companies_match_on_domain_and_name_but_not_a_longer_name_at_another_domain():
    con = store(accounts=[
        {sc.ACCOUNT_ID: "C1", sc.NAME: "ACME, Inc.", sc.DOMAIN: "https://www.acme.com/"},
        {sc.ACCOUNT_ID: "C2", sc.NAME: "Acme Inc", sc.DOMAIN: "acme.com"},
        {sc.ACCOUNT_ID: "C3", sc.NAME: "Acme", sc.DOMAIN: "acme.com"},
        {sc.ACCOUNT_ID: "C4", sc.NAME: "Acme Health", sc.DOMAIN: "acmehealth.com"},
        *[{sc.ACCOUNT_ID: f"X{i}", sc.NAME: f"Firm {i}", sc.DOMAIN: f"firm{i}.com"} for i in range(40)]])
    found = dup.company_duplicate_pairs(company_records(con), threshold=0.9)
    assert set(zip(found["id_l"], found["id_r"], strict=True)) == {("C1", "C2"), ("C1", "C3"), ("C2", "C3")}


def test_precision_and_recall_are_transitive():
    found = pl.DataFrame({"id_l": ["a", "b", "x"], "id_r": ["c", "c", "y"]})  # a~c, b~c → a~b too
    labelled = pl.DataFrame({"id_l": ["a", "a"], "id_r": ["b", "c"]})
    assert dup.precision_recall(found, labelled) == (3 / 4, 1.0)
    assert dup.precision_recall(found.clear(), labelled) == (None, 0.0)


def test_a_bad_threshold_is_a_clear_error():
    with pytest.raises(FunnelError, match="threshold"):
        dup.person_duplicate_pairs(pl.DataFrame(), threshold=0)


def test_a_threshold_of_one_asks_for_certainty_which_no_pair_reaches():
    """A probability of 1 is a match weight of +infinity: no finite evidence reaches it, so no pair is listed (Splink's
    own prediction failed on that threshold: its SQL named a column "inf")."""
    con = store(leads=[lead("L1", "Jon.Park+x@acme.com", "Jon Park", phone="(415) 555-2671", country="US"),
                       lead("L2", "jon.park@acme.com", "Jon Park", phone="+1 415 555 2671", country="US"), *FILLER])
    assert dup.person_duplicate_pairs(person_records(con), threshold=0.999999).height == 1
    assert dup.person_duplicate_pairs(person_records(con), threshold=1.0).is_empty()


# ----------------------------------------------------------------------------- survivor rule

def merge_con():
    return store(
        leads=[lead("L1", "a@x.com", "Ana Silva", owner=None, title=None),
               lead("L2", "A@x.com", "Ana Silva", owner="sdr.ben", title="CFO", phone="+1 415 555 2671"),
               lead("L3", " a@x.com", "Ana Silva", owner="sdr.cho", title=None), *FILLER],
        activities=[{sc.LEAD_ID: "L3", sc.ACTIVITY_TYPE: "page_view", sc.OCCURRED_AT: datetime(2026, 6, 1),
                     sc.ACTIVITY_ID: "A1"}])


@pytest.mark.parametrize(("rule", "survivor"), [("oldest", "L1"), ("most_complete", "L2"),
                                                ("most_recent_activity", "L3")])
def test_survivor_rule_picks_the_record_kept(rule, survivor):
    con = merge_con()
    records = dup.with_last_activity(con, person_records(con))
    merges = dup.merge_suggestions(records, dup.person_duplicate_pairs(records), id_column=sc.LEAD_ID,
                                   survivor=rule)
    assert set(merges["survivor"]) == {survivor}
    assert set(merges["merged"]) == {"; ".join(sorted({"L1", "L2", "L3"} - {survivor}))}


def test_merge_fills_the_survivors_empty_fields_from_the_newest_duplicate():
    con = merge_con()
    records = person_records(con)
    merges = dup.merge_suggestions(records, dup.person_duplicate_pairs(records), id_column=sc.LEAD_ID,
                                   survivor="oldest")
    fills = {f: (s, src) for f, s, src, c in merges.select("field", "suggested", "from_id", "change").iter_rows()
             if c == "fill"}
    assert fills[sc.OWNER] == ("sdr.cho", "L3")  # L3 is newer than L2
    assert fills[sc.TITLE] == ("CFO", "L2")
    with pytest.raises(FunnelError, match="survivor rule"):
        dup.merge_suggestions(records, pl.DataFrame(schema=dup.PAIR_SCHEMA), id_column=sc.LEAD_ID, survivor="x")
    with pytest.raises(FunnelError, match="last activity"):
        dup.merge_suggestions(records, dup.person_duplicate_pairs(records), id_column=sc.LEAD_ID,
                              survivor="most_recent_activity")


def test_last_activity_is_read_for_the_leads_asked_only():
    con = merge_con()
    records = person_records(con)
    everyone = dup.with_last_activity(con, records)
    one = dup.with_last_activity(con, records, pl.Series(["L3"]))
    assert one.get_column("lead_id").to_list() == records.get_column("lead_id").to_list()
    assert one.filter(pl.col("lead_id") != "L3").get_column("last_activity_at").null_count() == records.height - 1
    assert one.filter(pl.col("lead_id") == "L3").get_column("last_activity_at").to_list() == [datetime(2026, 6, 1)]
    assert everyone.filter(pl.col("lead_id") == "L3").get_column("last_activity_at").to_list() == [datetime(2026, 6, 1)]


def test_the_audit_reads_the_last_activity_for_the_rule_that_needs_it():
    audit = crm_audit(merge_con(), as_of=date(2026, 10, 31), person_survivor="most_recent_activity")
    assert set(audit.person_merges["survivor"]) == {"L3"}


# ---------------------------------------------------------------------------- fix file

def messy_leads_con():
    """Three leads as a HubSpot export holds them: countries, industries, a phone and a state not in standard form."""
    from funnel.ingest.importer import upsert
    con = memory_connection()
    leads = pl.DataFrame({
        sc.LEAD_ID: ["1", "2", "3"], sc.EMAIL: ["a@x.com", "b@y.com", "=cmd@z.com"], sc.FIRST_NAME: ["Ana", "Ben", "Cy"],
        sc.LAST_NAME: ["Silva", "Ng", "Ho"], sc.NAME: ["Ana Silva", "Ben Ng", "Cy Ho"],
        sc.CREATED_AT: [datetime(2026, 1, 2, 3, 4, 5)] * 3, sc.LIFECYCLE_STAGE: ["mql", "lead", "sql"],
        sc.COUNTRY: ["United States", "US", "Deutschland"], sc.INDUSTRY: ["SaaS", "Software", "banking"],
        sc.PHONE: ["+1 415 555 2671", None, None], sc.OWNER: ["sdr.ana", None, "ae.bo"],
    }).with_columns(**{c: pl.lit(None, dtype=sc.LEADS.column(c).dtype) for c in sc.LEADS.column_names
                       if c not in ("lead_id", "email", "first_name", "last_name", "name", "created_at",
                                    "lifecycle_stage", "country", "industry", "phone", "owner")}
                    ).select(sc.LEADS.column_names).with_columns(pl.Series(sc.ATTRIBUTES, [
                        [{"key": "State/Region", "value": "California"}, {"key": "Segment", "value": "=1+1"}],
                        [{"key": "State/Region", "value": "CA"}], []],
                        dtype=pl.List(pl.Struct({"key": pl.String, "value": pl.String}))), pl.lit(1).alias(sc.SOURCE_ROW))
    with raw_tables(con):  # as an import writes them; the identity model resolves them for the analyses
        upsert(con, sc.LEADS, leads, 1)
    rebuild_identity(con)
    return con


def test_fix_file_round_trip_removes_the_findings_and_keeps_everything_else(tmp_path):
    con = messy_leads_con()
    before = standardisation_findings(con, table="leads")
    assert sorted(before.select("id", "field", "suggested").iter_rows()) == [
        ("1", "attr:State/Region", "CA"), ("1", "country", "US"), ("1", "industry", "Software"),
        ("1", "phone", "(415) 555-2671"), ("3", "country", "DE"), ("3", "industry", "Financial Services")]
    assert fix_file(con, table="leads").columns[:4] == ["Record ID", "First Name", "Last Name", "Email"]
    path = tmp_path / "leads_fix.csv"
    path.write_bytes(fix_file_bytes(con, table="leads"))
    assert "'=cmd@z.com" in path.read_text(encoding="utf-8-sig")  # formula-safe
    result = write_import(con, prepare_import(path))
    rebuild_identity(con)
    assert result.updated == 2 and result.added == 0
    assert standardisation_findings(con, table="leads").is_empty()
    after = con.execute("select lead_id, owner, lifecycle_stage, created_at, name, attributes from leads "
                        "order by 1").fetchall()
    assert after[0] == ("1", "sdr.ana", "mql", datetime(2026, 1, 2, 3, 4, 5), "Ana Silva",
                        {"State/Region": "CA", "Segment": "'=1+1"})  # the neutralising quote is kept


def test_the_lead_model_keeps_the_findings_until_an_import_changes_the_data(tmp_path):
    """The audit reads the findings stored in the lead model once it is built: the same rows as computed from
    the tables; the fix file's import drops them with the rest of the model, and the next build finds none."""
    con = messy_leads_con()
    computed = records.computed_audit_records(con)
    assert not materialised.audit_records_are_current(con)
    ensure_model(con, settings=default_settings())
    stored = materialised.stored_audit_records(con)
    assert stored is not None and stored["lead_findings"].height == 6
    for name, table in computed.items():
        assert stored[name].sort(table.columns).equals(table.sort(table.columns)), name
    path = tmp_path / "leads_fix.csv"
    path.write_bytes(fix_file_bytes(con, table="leads"))
    write_import(con, prepare_import(path))
    rebuild_identity(con)  # what every import runs: every other part of the model is dropped
    assert materialised.stored_audit_records(con) is None
    assert audit_inputs(con).lead_findings.is_empty()
    ensure_model(con, settings=default_settings())
    assert materialised.stored_audit_records(con)["lead_findings"].is_empty()


# ------------------------------------------------------------------------- precision/recall

def test_precision_and_recall_on_the_samples_planted_duplicates():
    tables = sample_tables(leads=3000, seed=7)
    con = store(**{name: f.to_dicts() for name, f in tables.items() if name in ("leads", "accounts")})
    planted = planted_duplicate_pairs(leads=3000, seed=7).rename({"lead_id": "id_l", "original_id": "id_r"})
    found = dup.person_duplicate_pairs(person_records(con), threshold=0.9)
    precision, recall = dup.precision_recall(found, planted)
    print(f"sample 3000 leads: {planted.height} planted pairs, precision {precision:.3f}, recall {recall:.3f}")
    assert precision >= 0.95 and recall >= 0.95


def test_precision_and_recall_on_a_hand_made_messy_hubspot_export():
    con = memory_connection()
    write_import(con, prepare_import(FIXTURES / "messy_crm_contacts.csv"))
    rebuild_identity(con)
    labels = pl.read_csv(FIXTURES / "messy_crm_contacts.csv", infer_schema=False)
    truth = labels.select(pl.col("Record ID").alias("id_l"), pl.col("duplicate_of").alias("id_r")).drop_nulls()
    found = dup.person_duplicate_pairs(person_records(con), threshold=0.9)
    precision, recall = dup.precision_recall(found, truth)
    print(f"messy export: {truth.height} labelled pairs, {found.height} found, precision {precision:.3f}, "
          f"recall {recall:.3f}")
    assert recall == 1.0 and precision >= 0.8
    assert ("101", "102") not in set(zip(found["id_l"], found["id_r"], strict=True))  # Jon vs Jan Park


def test_precision_and_recall_of_company_matching_on_a_hand_made_messy_export():
    con = memory_connection()
    write_import(con, prepare_import(FIXTURES / "messy_crm_companies.csv"))
    rebuild_identity(con)
    labels = pl.read_csv(FIXTURES / "messy_crm_companies.csv", infer_schema=False)
    truth = labels.select(pl.col("Record ID").alias("id_l"), pl.col("duplicate_of").alias("id_r")).drop_nulls()
    found = dup.company_duplicate_pairs(company_records(con), threshold=0.9)
    precision, recall = dup.precision_recall(found, truth)
    print(f"messy companies: {truth.height} labelled pairs, {found.height} found, precision {precision:.3f}, "
          f"recall {recall:.3f}")
    pairs = set(zip(found["id_l"], found["id_r"], strict=True))
    assert ("201", "203") not in pairs and ("202", "203") not in pairs  # Acme vs Acme Health
    assert {("201", "202"), ("204", "205"), ("208", "209")} <= pairs


# ------------------------------------------------------------- candidate pairs scored at D = Splink's prediction

def splinks_own_pairs(records: pl.DataFrame, *, id_column: str, keys: tuple[str, ...], comparisons: list,
                      blocking: tuple, levels: dict, prior: float, threshold: float) -> pl.DataFrame:
    """Splink's prediction run over `records` at `prior` with `threshold`, as PAIR_SCHEMA rows: what the audit
    computed at every as-of date before the candidate pairs were found once."""
    import duckdb
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    connection = duckdb.connect()
    db = DuckDBAPI(connection)
    table = db.register(records.select(pl.col(id_column).alias("unique_id"), *keys).to_arrow(), table_name="records")
    settings = SettingsCreator(link_type="dedupe_only", unique_id_column_name="unique_id",
                               probability_two_random_records_match=prior, comparisons=comparisons,
                               blocking_rules_to_generate_predictions=[block_on(*b) for b in blocking],
                               retain_intermediate_calculation_columns=True)
    pairs = (Linker(table, settings, log_level="WARNING").inference
             .predict(threshold_match_probability=threshold, warning_mode="never").as_duckdbpyrelation().pl())
    connection.close()
    if pairs.is_empty():
        return pl.DataFrame(schema=dup.PAIR_SCHEMA)
    evidence = []
    for column, said_by in levels.items():
        gamma, top, said = pl.col(f"gamma_{column}"), len(said_by) - 1, pl.lit(None, dtype=pl.String)
        for i, level in enumerate(said_by):
            said = pl.when(gamma == top - i).then(pl.lit(level.words)).otherwise(said)
        evidence.append(said)
    return pairs.select(pl.min_horizontal("unique_id_l", "unique_id_r").alias("id_l"),
                        pl.max_horizontal("unique_id_l", "unique_id_r").alias("id_r"),
                        "match_probability", "match_weight",
                        pl.concat_str(evidence, separator="; ", ignore_nulls=True).alias("evidence"),
                        ).cast(dup.PAIR_SCHEMA).sort(["match_probability", "id_l", "id_r"], descending=[True, False, False])


@pytest.fixture(scope="module")
def sample_records() -> dict[str, pl.DataFrame]:
    """The sample's lead match records, a messy export's account match records, and the candidate pairs found
    once over all of each."""
    tables = sample_tables(leads=1500, seed=11)
    con = store(**{name: f.to_dicts() for name, f in tables.items() if name in ("leads", "accounts")})
    people = person_records(con)
    con = memory_connection()  # the sample's company names never collide: the hand-made export's do
    write_import(con, prepare_import(FIXTURES / "messy_crm_companies.csv"))
    rebuild_identity(con)
    companies = company_records(con)
    return {"people": people, "companies": companies, "person_candidates": records.person_candidates(people),
            "company_candidates": records.company_candidates(companies)}


@hsettings(max_examples=10, deadline=None)
@given(share=hst.floats(0.02, 1.0), threshold=hst.sampled_from([0.05, 0.5, 0.9, 0.999]),
       seed=hst.integers(0, 2**31), expected=hst.sampled_from([0.05, 0.5]))
def test_candidates_found_once_and_scored_at_d_are_splinks_prediction_over_the_records_of_d(
        sample_records, share, threshold, seed, expected):
    """The leads of D (any subset of the leads), and any subset of the accounts: the candidate pairs found once
    over every record, kept to those of the subset and scored at its prior, are exactly (bit for bit) the pairs
    Splink's prediction finds over the subset alone."""
    people = sample_records["people"].sample(fraction=share, seed=seed)
    got = dup.person_duplicate_pairs(people, threshold=threshold, expected_duplicate_share=expected,
                                     candidates=sample_records["person_candidates"])
    want = splinks_own_pairs(people, id_column=sc.LEAD_ID, keys=records.PERSON_KEYS,
                             comparisons=records.person_comparisons(), blocking=records.PERSON_BLOCKING,
                             levels=records.PERSON_LEVELS, prior=dup._prior(people.height, expected), threshold=threshold)
    assert got.equals(want)
    companies = sample_records["companies"].sample(fraction=max(share, 0.5), seed=seed)
    got = dup.company_duplicate_pairs(companies, threshold=threshold, expected_duplicate_share=expected,
                                      candidates=sample_records["company_candidates"])
    want = splinks_own_pairs(companies, id_column=sc.ACCOUNT_ID, keys=records.COMPANY_KEYS,
                             comparisons=records.company_comparisons(), blocking=records.COMPANY_BLOCKING,
                             levels=records.COMPANY_LEVELS, prior=dup._prior(companies.height, expected),
                             threshold=threshold)
    assert got.equals(want)


@pytest.mark.parametrize(("crm", "table"), [(c, t) for c, tables in CRM_COLUMNS.items() for t in tables])
def test_every_fix_file_header_is_read_back_by_that_crms_preset(crm, table):
    headers = list(CRM_COLUMNS[crm][table].values())
    mapping, section = recognised_preset(headers)
    assert mapping.name.lower() == crm and section.table == table
    for canonical, header in CRM_COLUMNS[crm][table].items():
        assert section.columns[sc.normalise_name(header)] == canonical


def test_hygiene_trend_compares_each_check_with_the_previous_month_end():
    from funnel.analyses.crm_audit import hygiene_trend
    from funnel.analyses.hygiene import CHECKS
    from funnel.config import default_settings

    tables = sample_tables(leads=600, seed=3)
    con = store(**{name: f.to_dicts() for name, f in tables.items() if name != "activities"})
    trend = hygiene_trend(con, settings=default_settings(), as_of=date(2026, 10, 31))
    assert trend["check"].to_list() == list(CHECKS)
    assert (trend["change"] == trend["leads"] - trend["month_before"]).all()
    dup_row = trend.filter(pl.col("check") == "duplicate_email").row(0, named=True)
    assert dup_row["month_before"] <= dup_row["leads"]  # duplicates only accumulate
