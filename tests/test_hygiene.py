"""The hygiene report: given a few hand-made leads, expect each check to flag exactly the right ones."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from functools import partial
from types import SimpleNamespace

import polars as pl
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from funnel import schema as sc
from funnel.analyses import hygiene
from funnel.config import default_settings
from funnel.errors import FunnelError
from funnel.model.build import build_funnel_entries
from funnel.model.materialised import (
    engagement_days_are_current,
    funnel_is_current,
    intent_inputs_are_current,
    write_engagement_days,
    write_intent_inputs,
)
from funnel.store.db import memory_connection
from tests.stores import store

SETTINGS = default_settings()  # reactivation_after_days 90, not meaningful: email_open
D = date(2026, 4, 30)
RECENT = "2026-04-01 09:00"  # created recently: never "no engagement for 90 days"




def t(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def lead(lead_id: str, *, name: str | None = None, email: str | None = None, owner: str | None = None,
         created: str = RECENT, lifecycle: str | None = None, status: str | None = "Open",
         next_action: str | None = None, account: str | None = None) -> dict:
    return {sc.LEAD_ID: lead_id, sc.NAME: name or f"Person {lead_id}",
            sc.EMAIL: email if email is not None else f"{lead_id.lower()}@example.com",
            sc.OWNER: owner, sc.CREATED_AT: t(created), sc.LIFECYCLE_STAGE: lifecycle, sc.LEAD_STATUS: status,
            sc.NEXT_ACTION_AT: t(next_action), sc.ACCOUNT_ID: account}


def entry(lead_id: str, stage: str, at: str = RECENT) -> dict:
    return {sc.LEAD_ID: lead_id, sc.LADDER: sc.LIFECYCLE, sc.STAGE: stage, sc.ENTERED_AT: t(at)}


def activity(lead_id: str, kind: str, at: str) -> dict:
    return {sc.ACTIVITY_ID: f"{lead_id}-{kind}-{at}", sc.LEAD_ID: lead_id, sc.ACTIVITY_TYPE: kind,
            sc.OCCURRED_AT: t(at)}


NEXT = "2026-05-05 09:00"
OLD = "2025-12-01 09:00"
LEADS = [
    # duplicate e-mails: H1 and H2 are one address; H3's plus-address is kept apart
    lead("H1", name="Ann Lee", email="ann.lee@acme.com"),
    lead("H2", name="Ann Lee", email="  Ann.Lee@ACME.com "),
    lead("H3", name="Annie Lee", email="ann.lee+news@acme.com"),
    # same name at the same domain, different e-mails (H6 has none: its account's domain counts)
    lead("H4", name="Bob Stone", email="bob@beta.io"),
    lead("H5", name="bob  stone", email="robert.stone@beta.io"),
    lead("H6", name="Bob Stone", email="", account="A1"),
    # owners: H7 none (MQL only), H8 blank (SQL); H9 is only a lead
    lead("H7"), lead("H8", owner="  "), lead("H9"),
    lead("H10", owner="sdr@acme.test", next_action=NEXT),
    # an unmapped lifecycle value; a mapped one (placed at MQL, owned)
    lead("H11", lifecycle="Champion"),
    lead("H12", lifecycle="Marketing Qualified Lead", owner="sdr@acme.test", next_action=NEXT),
    # vague statuses; a clear one; none
    lead("H13", status=" other "), lead("H14", status="Working"), lead("H15", status="Open"), lead("H15b", status=None),
    # no meaningful engagement: 91 days (flagged), 90 days (not), only e-mail opens (flagged), a customer
    lead("H16", created=OLD), lead("H17", created=OLD), lead("H18", created=OLD),
    lead("H19", created=OLD, owner="ae@acme.test"),
    # owned in an active stage without a next action (H20); with one (H21); an owned customer (H22)
    lead("H20", owner="ae@acme.test"), lead("H21", owner="ae@acme.test", next_action=NEXT),
    lead("H22", owner="ae@acme.test"),
    # impossible: won before created (H23); stage before created (H24); deal closed before it was created
    # (H25); same day is fine (H26)
    lead("H23", created="2026-03-01 09:00"), lead("H24", created="2026-02-01 09:00", owner="sdr@acme.test", next_action=NEXT),
    lead("H25", created="2026-01-01 09:00"), lead("H26", created="2026-03-01 15:00"),
    # created after D: in no check, not even as a duplicate
    lead("H27", name="Ann Lee", email="ann.lee@acme.com", created="2026-05-05 09:00"),
]
EVENTS = [
    entry("H7", "mql"), entry("H8", "sql"), entry("H9", "lead"), entry("H10", "mql"),
    entry("H16", "lead", OLD), entry("H17", "lead", OLD), entry("H18", "lead", OLD), entry("H19", "customer", OLD),
    entry("H20", "sql"), entry("H21", "sql"), entry("H22", "customer"),
    entry("H24", "lead", "2026-01-01 09:00"), entry("H24", "mql", "2026-02-10 09:00"),
    entry("H26", "lead", "2026-03-01 00:00"),
]
ACTIVITIES = [
    activity("H16", "page_view", "2026-01-29 18:00"),  # 91 days before D
    activity("H17", "page_view", "2026-01-30 08:00"),  # 90 days before D
    activity("H18", "email_open", "2026-04-20 08:00"),
]
DEALS = [
    {sc.DEAL_ID: "X1", sc.LEAD_ID: "H23", sc.CREATED_AT: t("2026-01-10 09:00"), sc.CLOSED_AT: t("2026-02-01 09:00"),
     sc.WON: True},
    {sc.DEAL_ID: "X2", sc.LEAD_ID: "H25", sc.CREATED_AT: t("2026-03-10 09:00"), sc.CLOSED_AT: t("2026-03-05 09:00"),
     sc.WON: False},
]
ACCOUNTS = [{sc.ACCOUNT_ID: "A1", sc.NAME: "Beta", sc.DOMAIN: "https://www.Beta.io/about"}]

EXPECTED = {
    "duplicate_email": ["H1", "H2"],
    "same_name_domain": ["H4", "H5", "H6"],
    # at funnel intent or beyond without an owner: H8 (lifecycle SQL → opportunity, blank owner), H23 (a won
    # deal → customer), H25 (a deal → opportunity); H7 is only MQL, which no sales evidence backs (awareness)
    "no_owner": ["H23", "H25", "H8"],
    "unmapped_lifecycle": ["H11"],
    "vague_status": ["H13", "H14"],
    "no_engagement": ["H16", "H18"],
    "no_next_action": ["H20"],
    "impossible_sequence": ["H23", "H24", "H25"],
}
POPULATION = len(LEADS) - 1  # H27 is created after D


@pytest.fixture
def con(monkeypatch):
    connection = store(leads=LEADS, stage_events=EVENTS, activities=ACTIVITIES, deals=DEALS, accounts=ACCOUNTS)
    yield connection
    connection.close()


def flagged(con, check: str) -> list[str]:
    return sorted(hygiene.hygiene_leads(con, settings=SETTINGS, as_of=D, check=check).get_column(sc.LEAD_ID))


def test_report_counts_every_check(con):
    report = hygiene.hygiene_report(con, settings=SETTINGS, as_of=D)
    assert report.columns == list(hygiene.REPORT_SCHEMA)
    assert report.get_column("check").to_list() == list(hygiene.CHECKS)
    assert dict(report.select("check", "leads").iter_rows()) == {k: len(v) for k, v in EXPECTED.items()}
    shares = dict(report.select("check", "share").iter_rows())
    assert shares["same_name_domain"] == pytest.approx(3 / POPULATION)
    assert report.get_column("what_to_do").str.len_chars().min() > 0


@pytest.mark.parametrize("check", list(EXPECTED))
def test_each_check_lists_its_leads(con, check):
    assert flagged(con, check) == EXPECTED[check]


def test_details_say_what_failed(con):
    dupes = hygiene.hygiene_leads(con, settings=SETTINGS, as_of=D, check="duplicate_email")
    assert set(dupes.get_column("group")) == {"ann.lee@acme.com"}
    statuses = hygiene.hygiene_leads(con, settings=SETTINGS, as_of=D, check="vague_status")
    assert sorted(statuses.get_column("detail")) == ["lead status:  other ", "lead status: Working"]
    stale = hygiene.hygiene_leads(con, settings=SETTINGS, as_of=D, check="no_engagement")
    assert dict(stale.select(sc.LEAD_ID, "detail").iter_rows()) == {
        "H16": "91 days since the last meaningful engagement (lead)",
        "H18": "no meaningful engagement since it was created, 150 days ago (lead)",
    }
    impossible = hygiene.hygiene_leads(con, settings=SETTINGS, as_of=D, check="impossible_sequence")
    assert dict(impossible.select(sc.LEAD_ID, "detail").iter_rows()) == {
        "H23": "a deal closed before the lead was created",
        "H24": "a stage entered before the lead was created",
        "H25": "a deal closed before it was created",
    }


def test_funnel_ladder_decides_who_needs_an_owner(con, monkeypatch):
    stages = pl.DataFrame({sc.LEAD_ID: ["H7", "H9", "H10", "H4", "H11"],
                           "funnel_stage": ["intent", "consideration", "customer", "opportunity", "reactivation"]})
    fake = SimpleNamespace(FUNNEL_STAGE="funnel_stage", funnel_stages_at=lambda con, *, settings, as_of: stages)
    monkeypatch.setattr(hygiene, "stages", fake)
    assert flagged(con, "no_owner") == ["H4", "H7"]
    report = hygiene.hygiene_report(con, settings=SETTINGS, as_of=D)
    assert report.filter(pl.col("check") == "no_owner").get_column("description")[0].startswith("At funnel stage intent")


def test_an_earlier_day_sees_less(con):
    report = hygiene.hygiene_report(con, settings=SETTINGS, as_of=date(2026, 2, 15))
    counts = dict(report.select("check", "leads").iter_rows())
    # Only H16-H19, H24 and H25 exist then; H24's early stage entry is already visible.
    assert counts["impossible_sequence"] == 1 and counts["duplicate_email"] == 0


def test_unknown_check_is_refused(con):
    with pytest.raises(FunnelError):
        hygiene.hygiene_leads(con, settings=SETTINGS, as_of=D, check="bad_vibes")


def test_empty_store():
    report = hygiene.hygiene_report(memory_connection(), settings=SETTINGS, as_of=D)
    assert report.height == len(hygiene.CHECKS)
    assert report.get_column("leads").to_list() == [0] * len(hygiene.CHECKS)
    assert report.get_column("share").null_count() == len(hygiene.CHECKS)


# --- properties ---------------------------------------------------------------------------------

def variants(address: str):
    return st.sampled_from([address, address.upper(), f"  {address} ", address.title(),
                            address.replace("@", "+x@")])


@hsettings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(emails=st.lists(st.sampled_from(["a@x.io", "b@x.io", "a@y.io"]).flatmap(variants), max_size=10))
def test_duplicates_are_the_leads_sharing_a_normalised_email(emails):
    con = store(leads=[lead(f"E{i}", email=e) for i, e in enumerate(emails)])
    keys = [e.strip().lower() for e in emails]
    expected = sorted(f"E{i}" for i, k in enumerate(keys) if keys.count(k) > 1)
    assert sorted(hygiene.hygiene_leads(con, settings=SETTINGS, as_of=D, check="duplicate_email")
                  .get_column(sc.LEAD_ID)) == expected
    report = hygiene.hygiene_report(con, settings=SETTINGS, as_of=D)
    for row in report.iter_rows(named=True):
        assert row["leads"] <= len(emails)
        assert row["share"] is None if not emails else 0.0 <= row["share"] <= 1.0
        assert row["leads"] == hygiene.hygiene_leads(con, settings=SETTINGS, as_of=D, check=row["check"]).height


# --- many days in one pass ------------------------------------------------------------------------

# Days a report is asked for, and moments around their ends (a second before and at midnight after).
DAYS = (date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 15), date(2026, 4, 30))
MOMENTS = (None, "2025-09-01 10:00", "2025-11-02 10:00", "2026-01-31 23:59", "2026-02-01 00:00", "2026-02-20 12:00", "2026-02-28 23:59",
           "2026-03-01 00:00", "2026-03-15 08:00", "2026-03-16 00:00", "2026-04-30 23:59", "2026-05-01 00:00")
moments = st.sampled_from(MOMENTS)
dated = st.sampled_from(MOMENTS[1:])
ids = st.sampled_from([f"R{i}" for i in range(8)])


@st.composite
def small_stores(draw) -> dict[str, list[dict]]:
    """A few leads (some sharing an address or a name, owned or not, any lifecycle value), with lifecycle
    entries, meaningful or not activities and deals at moments around the days' ends."""
    count = draw(st.integers(1, 8))
    leads = [lead(f"R{i}", name=draw(st.sampled_from(["Ann Lee", "ann  lee", "Bob Stone"])),
                  email=draw(st.sampled_from(["ann@acme.com", " ANN@acme.com", "bob@acme.com", f"r{i}@beta.io", ""])),
                  owner=draw(st.sampled_from([None, " ", "ae@acme.test"])), created=draw(moments),
                  lifecycle=draw(st.sampled_from([None, "lead", "mql", "sql", "customer", "Champion"])),
                  status=draw(st.sampled_from([None, "Open", "working"])),
                  next_action=draw(st.sampled_from([None, NEXT])), account=draw(st.sampled_from([None, "A1"])))
             for i in range(count)]
    for row in leads:
        row[sc.LAST_ENGAGEMENT_AT] = t(draw(moments))
    events = [entry(draw(ids), draw(st.sampled_from(["lead", "mql", "sql", "opportunity", "customer", "disqualified"])),
                    draw(dated)) for _ in range(draw(st.integers(0, 10)))]
    touches = [activity(draw(ids), draw(st.sampled_from(["page_view", "email_open", "demo_request"])), draw(dated))
               for _ in range(draw(st.integers(0, 10)))]
    for i, row in enumerate(touches):
        row[sc.ACTIVITY_ID] = f"T{i}"
    deals = [{sc.DEAL_ID: f"X{i}", sc.LEAD_ID: draw(ids), sc.CREATED_AT: t(draw(dated)), sc.CLOSED_AT: t(draw(moments)),
              sc.WON: draw(st.booleans())} for i in range(draw(st.integers(0, 3)))]
    return {"leads": leads, "stage_events": events, "activities": touches, "deals": deals, "accounts": ACCOUNTS}


def by_lead(flags: pl.DataFrame) -> pl.DataFrame:
    return flags.sort("check", sc.LEAD_ID)


def each_day_alone_equals_all_days_at_once(con, days) -> None:
    reports = hygiene.hygiene_reports(con, settings=SETTINGS, days=days)
    flags = hygiene.hygiene_flags(con, settings=SETTINGS, days=days)
    assert sorted(reports) == sorted(flags) == sorted(set(days))
    for day in days:
        alone = hygiene.hygiene_flags(con, settings=SETTINGS, days=[day])[day]
        assert_frame_equal(by_lead(flags[day]), by_lead(alone))
        assert_frame_equal(reports[day], hygiene.hygiene_report(con, settings=SETTINGS, as_of=day))
        for check in ("no_owner", "no_engagement", "impossible_sequence"):
            assert_frame_equal(hygiene.hygiene_leads(con, settings=SETTINGS, as_of=day, check=check, flags=flags[day]),
                               hygiene.hygiene_leads(con, settings=SETTINGS, as_of=day, check=check))


@hsettings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables=small_stores(), days=st.lists(st.sampled_from(DAYS), min_size=1, max_size=4, unique=True))
def test_many_days_in_one_pass_are_each_day_computed_alone(tables, days):
    con = store(**tables)
    try:
        each_day_alone_equals_all_days_at_once(con, days)
    finally:
        con.close()


@hsettings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables=small_stores(), days=st.lists(st.sampled_from(DAYS), min_size=1, max_size=4, unique=True))
def test_no_owner_reads_the_stored_funnel_stages_of_every_day_as_the_engine_places_each_day(tables, days):
    con = store(**tables)
    try:
        from_engine = hygiene.hygiene_flags(con, settings=SETTINGS, days=days, checks=["no_owner"])
        build_funnel_entries(con, settings=SETTINGS)
        assert funnel_is_current(con, SETTINGS)
        stored = hygiene.hygiene_flags(con, settings=SETTINGS, days=days, checks=["no_owner"])
        for day in days:
            assert_frame_equal(by_lead(stored[day]), by_lead(from_engine[day]))
        each_day_alone_equals_all_days_at_once(con, days)
    finally:
        con.close()


@hsettings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables=small_stores(), days=st.lists(st.sampled_from(DAYS), min_size=1, max_size=4, unique=True))
def test_no_engagement_from_the_models_activity_days_is_no_engagement_from_the_activities(tables, days):
    """With the lead model's activity days (one row per lead, type and day) the check flags the same leads with the
    same texts as from the activities themselves, whatever the moments around midnight."""
    con = store(**tables)
    try:
        from_activities = hygiene.hygiene_flags(con, settings=SETTINGS, days=days, checks=["no_engagement"])
        write_intent_inputs(con)
        assert intent_inputs_are_current(con)
        from_days = hygiene.hygiene_flags(con, settings=SETTINGS, days=days, checks=["no_engagement"])
        for day in days:
            assert_frame_equal(by_lead(from_days[day]), by_lead(from_activities[day]))
        write_engagement_days(con, settings=SETTINGS)  # each lead's meaningful days, one picked per lead and day
        assert engagement_days_are_current(con, SETTINGS)
        opens = replace(SETTINGS, funnel_rules=replace(SETTINGS.funnel_rules, not_meaningful=("email_sent",)))
        assert not engagement_days_are_current(con, opens)  # opens count for these rules: the days are not theirs
        from_engagement = hygiene.hygiene_flags(con, settings=SETTINGS, days=days, checks=["no_engagement"])
        for day in days:
            assert_frame_equal(by_lead(from_engagement[day]), by_lead(from_activities[day]))
    finally:
        con.close()


@pytest.mark.parametrize("write", [write_intent_inputs, partial(write_engagement_days, settings=SETTINGS)],
                         ids=["activity days", "engagement days"])
def test_no_engagement_reads_the_model_when_it_holds_the_days(write):
    con = store(leads=[lead("E1", lifecycle="mql", created="2025-09-01 10:00")],
                activities=[activity("E1", "page_view", "2026-01-31 23:59"),
                            activity("E1", "email_open", "2026-03-01 00:00")],
                accounts=ACCOUNTS)
    write(con)
    con.execute("DELETE FROM activities")  # read no more: the model's days answer
    flags = hygiene.hygiene_flags(con, settings=SETTINGS, days=[date(2026, 5, 1), date(2026, 5, 2)],
                                  checks=["no_engagement"])
    assert flags[date(2026, 5, 1)].is_empty(), "90 days since the page view late on Jan 31: not more than 90"
    assert flags[date(2026, 5, 2)].get_column("detail").to_list() == [
        "91 days since the last meaningful engagement (mql)"], "the e-mail open on Mar 1 is no engagement"


def test_a_day_asked_twice_is_one_day_and_no_day_is_no_report(con):
    assert list(hygiene.hygiene_reports(con, settings=SETTINGS, days=[D, D])) == [D]
    assert hygiene.hygiene_reports(con, settings=SETTINGS, days=[]) == {}


def test_a_touch_at_midnight_counts_from_that_day_on_when_days_share_a_pass():
    con = store(leads=[lead("M1", created="2025-09-01 10:00")], stage_events=[entry("M1", "lead", "2025-09-01 10:00")],
                activities=[activity("M1", "page_view", "2026-02-01 00:00")])
    days = [date(2026, 1, 31), date(2026, 2, 1), date(2026, 2, 28)]
    flags = hygiene.hygiene_flags(con, settings=SETTINGS, days=days, checks=["no_engagement"])
    assert {day: flags[day].get_column("detail").to_list() for day in days} == {
        date(2026, 1, 31): ["no meaningful engagement since it was created, 152 days ago (lead)"],
        date(2026, 2, 1): [], date(2026, 2, 28): []}
    each_day_alone_equals_all_days_at_once(con, days)
