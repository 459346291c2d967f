"""Given/expect tests of the capture audit: fill rates by entry point and age, form funnels, each
field's lift on conversion, and the data-quality note."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from funnel import schema as sc
from funnel.analyses import capture as cap
from funnel.config import default_settings
from funnel.errors import FunnelError
from funnel.model import materialised
from tests.stores import store

D = date(2026, 3, 31)


def con_of():
    leads = [
        # four paid leads, two with an industry (one converts); two referral leads without (none converts)
        {sc.LEAD_ID: "1", sc.SOURCE: "Paid", sc.INDUSTRY: "Software", sc.TITLE: "VP Sales", sc.OWNER: "ana",
         sc.CREATED_AT: datetime(2026, 3, 30)},
        {sc.LEAD_ID: "2", sc.SOURCE: "Paid", sc.INDUSTRY: "Retail", sc.TITLE: "Intern", sc.OWNER: None,
         sc.CREATED_AT: datetime(2026, 3, 1)},
        {sc.LEAD_ID: "3", sc.SOURCE: "Paid", sc.ACCOUNT_ID: "A", sc.CREATED_AT: datetime(2026, 1, 1)},
        {sc.LEAD_ID: "4", sc.SOURCE: "Paid", sc.CREATED_AT: None},
        {sc.LEAD_ID: "5", sc.SOURCE: "Referral", sc.CREATED_AT: datetime(2026, 3, 25)},
        {sc.LEAD_ID: "6", sc.SOURCE: "Referral", sc.CREATED_AT: datetime(2026, 4, 2)},  # after D: not counted
    ]
    return store(
        leads=leads,
        accounts=[{sc.ACCOUNT_ID: "A", sc.INDUSTRY: "Healthcare", sc.EMPLOYEES: 50}],
        stage_events=[{sc.LEAD_ID: "1", sc.LADDER: "lifecycle", sc.STAGE: "sql", sc.ENTERED_AT: datetime(2026, 3, 31)},
                      {sc.LEAD_ID: "3", sc.LADDER: "lifecycle", sc.STAGE: "sql", sc.ENTERED_AT: datetime(2026, 2, 1)}],
        activities=[
            {sc.ACTIVITY_ID: "a1", sc.LEAD_ID: "1", sc.ACTIVITY_TYPE: "page_view", sc.URL: "/demo?utm=x",
             sc.OCCURRED_AT: datetime(2026, 3, 30, 9)},
            {sc.ACTIVITY_ID: "a2", sc.LEAD_ID: "1", sc.ACTIVITY_TYPE: "demo_request", sc.URL: "/demo",
             sc.OCCURRED_AT: datetime(2026, 3, 30, 10)},
            {sc.ACTIVITY_ID: "a3", sc.LEAD_ID: "2", sc.ACTIVITY_TYPE: "page_view", sc.URL: "/Demo",
             sc.OCCURRED_AT: datetime(2026, 3, 2)},
            {sc.ACTIVITY_ID: "a4", sc.LEAD_ID: "5", sc.ACTIVITY_TYPE: "form_fill", sc.URL: "/lp/guide",
             sc.OCCURRED_AT: datetime(2026, 3, 25)},
        ])


@pytest.fixture(scope="module")
def captured():
    return cap.capture_frame(con_of(), settings=default_settings(), as_of=D)


def test_fill_rate_by_source_counts_the_accounts_firmographics(captured):
    rates = cap.field_fill_rates(captured, by="source").filter(pl.col("field").is_in(["industry", "employees"]))
    got = {(s, f): (n, k, r) for s, f, n, k, r, _ in rates.iter_rows()}
    assert got[("Paid", "industry")] == (4, 3, 0.75)
    assert got[("Paid", "employees")] == (4, 1, 0.25)
    assert got[("Referral", "industry")] == (1, 0, 0.0)
    with pytest.raises(FunnelError, match="entry point"):
        cap.field_fill_rates(captured, by="nope")


def entry_points_store():
    """Lead 1: a first activity with neither campaign nor page, then two campaigns at one moment (activity ids b
    then c), then a page; lead 2: a campaign only after D; lead 3: no activity."""
    at = datetime(2026, 3, 10)
    return store(
        leads=[{sc.LEAD_ID: "1", sc.CREATED_AT: datetime(2026, 3, 1)}, {sc.LEAD_ID: "2", sc.CREATED_AT: None},
               {sc.LEAD_ID: "3", sc.CREATED_AT: datetime(2026, 3, 2)}],
        activities=[
            {sc.ACTIVITY_ID: "a", sc.LEAD_ID: "1", sc.ACTIVITY_TYPE: "email_open", sc.OCCURRED_AT: datetime(2026, 3, 5)},
            {sc.ACTIVITY_ID: "c", sc.LEAD_ID: "1", sc.ACTIVITY_TYPE: "ad_click", sc.CAMPAIGN: "spring",
             sc.OCCURRED_AT: at},
            {sc.ACTIVITY_ID: "b", sc.LEAD_ID: "1", sc.ACTIVITY_TYPE: "ad_click", sc.CAMPAIGN: "autumn",
             sc.OCCURRED_AT: at},
            {sc.ACTIVITY_ID: "d", sc.LEAD_ID: "1", sc.ACTIVITY_TYPE: "page_view", sc.URL: "/pricing",
             sc.OCCURRED_AT: datetime(2026, 3, 20)},
            {sc.ACTIVITY_ID: "e", sc.LEAD_ID: "1", sc.ACTIVITY_TYPE: "page_view", sc.URL: "/blog",
             sc.OCCURRED_AT: datetime(2026, 3, 25)},
            {sc.ACTIVITY_ID: "f", sc.LEAD_ID: "2", sc.ACTIVITY_TYPE: "ad_click", sc.CAMPAIGN: "summer",
             sc.OCCURRED_AT: datetime(2026, 4, 3)},
        ])


@pytest.mark.parametrize("stored", [False, True], ids=["tables", "model"])
def test_the_entry_point_is_the_first_campaign_and_page_recorded_by_d_ties_in_activity_id_order(stored):
    con = entry_points_store()
    if stored:
        assert materialised.write_first_touches(con) == 2
        assert materialised.first_touches_are_current(con)
    entry = {day: {lead: (campaign, url) for lead, campaign, url in cap.capture_frame(
        con, settings=default_settings(), as_of=day).select(sc.LEAD_ID, sc.CAMPAIGN, sc.URL).iter_rows()}
        for day in (date(2026, 3, 9), date(2026, 3, 22), D, date(2026, 4, 30))}
    assert entry[date(2026, 3, 9)] == {"1": (None, None), "2": (None, None), "3": (None, None)}
    assert entry[date(2026, 3, 22)] == {"1": ("autumn", "/pricing"), "2": (None, None), "3": (None, None)}
    assert entry[D] == entry[date(2026, 3, 22)]  # a later page is not the first one
    assert entry[date(2026, 4, 30)] == {"1": ("autumn", "/pricing"), "2": ("summer", None), "3": (None, None)}


def test_fill_by_age_is_a_cross_section_at_d(captured):
    ages = cap.fill_by_age(captured, as_of=D).filter(pl.col("field") == "industry")
    assert ages.select("age", "leads", "filled").rows() == [("0-7 days", 2, 1), ("8-30 days", 1, 1),
                                                            ("31-90 days", 1, 1), ("undated", 1, 0)]  # Jan 1 is 89 days before D


def test_lift_of_knowing_a_field_with_intervals_and_bh(captured):
    lift = cap.field_conversion_lift(captured).filter(pl.col("field") == "industry").row(0, named=True)
    assert (lift["leads_with"], lift["converted_with"], lift["leads_without"], lift["converted_without"]) == (3, 2, 2, 0)
    assert lift["lift"] == pytest.approx(2 / 3)
    assert 0 <= lift["with_low"] <= 2 / 3 <= lift["with_high"] <= 1
    assert lift["q_value"] >= lift["p_value"]
    phone = cap.field_conversion_lift(captured).filter(pl.col("field") == "phone").row(0, named=True)
    assert phone["leads_with"] == 0 and phone["rate_with"] is None and phone["lift"] is None


@pytest.mark.parametrize("stored", [False, True], ids=["tables", "model"])
def test_form_funnels_count_views_before_submission_and_leave_unviewed_forms_null(stored):
    con = con_of()
    if stored:
        assert materialised.write_form_touches(con) == 3  # /demo: leads 1 and 2; /lp/guide: lead 5
        assert materialised.form_touches_are_current(con)
    forms = cap.form_funnels(con, as_of=D)
    got = {f: (v, s, both, c) for f, v, s, both, c, _ in forms.iter_rows()}
    assert got["/demo"] == (2, 1, 1, 0.5)
    assert got["/lp/guide"] == (0, 1, 0, None)
    assert forms.filter(pl.col("form") == "/demo")["below_target"].item() is True


FORM_PAGES = ("/demo", "/Demo?utm=x", "/demo#top", "/lp/guide", "/pricing")


@hsettings(max_examples=25, deadline=None)
@given(touches=st.lists(st.tuples(st.sampled_from(["1", "2", "3"]), st.sampled_from(["demo_request", "form_fill",
                                                                                        "page_view", "pricing_page_view",
                                                                                        "email_open"]),
                                  st.sampled_from(FORM_PAGES), st.integers(0, 40), st.integers(0, 23)), max_size=14),
       day=st.integers(0, 45))
def test_form_funnels_from_the_stored_touches_cut_at_d_are_those_from_the_activities(touches, day):
    """Any activities, any day: the funnels from the lead model's form touches (one run to the horizon, cut at D)
    are those read from the activities up to D."""
    start = datetime(2026, 3, 1)
    con = store(leads=[{sc.LEAD_ID: lead, sc.CREATED_AT: start} for lead in ("1", "2", "3")],
                activities=[{sc.ACTIVITY_ID: f"a{i}", sc.LEAD_ID: lead, sc.ACTIVITY_TYPE: kind, sc.URL: url,
                             sc.OCCURRED_AT: start + timedelta(days=days, hours=hours)}
                            for i, (lead, kind, url, days, hours) in enumerate(touches)])
    as_of = date(2026, 3, 1) + timedelta(days=day)
    from_tables = cap.form_funnels(con, as_of=as_of)
    materialised.write_form_touches(con)
    assert cap.form_funnels(con, as_of=as_of).equals(from_tables)


def test_data_quality_note_for_the_leads_behind_a_number(captured):
    note = cap.data_quality_note(captured)
    assert note.select("need", "leads", "lacking").rows() == [
        ("creation date", 5, 1), ("owner", 5, 4), ("firmographics (industry and size)", 5, 4)]
    some = cap.data_quality_note(captured, lead_ids=pl.Series(["1", "3"]))
    assert some["lacking"].to_list() == [0, 1, 1] and some["share"].to_list() == [0.0, 0.5, 0.5]
    none = cap.data_quality_note(captured, lead_ids=pl.Series([], dtype=pl.String))
    assert none["share"].to_list() == [None, None, None]


def test_common_attribute_keys_are_audited_like_fields():
    con = con_of()
    con.execute("UPDATE leads SET attributes = MAP {'Budget': '10k', 'Empty': ' '} WHERE lead_id = '1'")
    captured = cap.capture_frame(con, settings=default_settings(), as_of=D)
    assert "attr:Budget" in captured.columns and "attr:Empty" not in captured.columns
    rates = cap.field_fill_rates(captured).filter(pl.col("field") == "attr:Budget")
    assert rates.select("source", "leads", "filled").rows() == [("Paid", 4, 1), ("Referral", 1, 0)]


def test_the_data_quality_sentence_names_each_share_and_says_nothing_without_leads():
    note = pl.DataFrame({"need": ["creation date", "owner", "firmographics (industry and size)"],
                         "leads": [4, 4, 4], "lacking": [0, 1, 3], "share": [0.0, 0.25, 0.75]})
    assert cap.data_quality_sentence(note) == ("Data behind these numbers: of 4 leads, 0% lack a creation date, "
                                               "25% lack an owner, 75% lack firmographics (industry and size).")
    assert cap.data_quality_sentence(note.with_columns(pl.lit(0).alias("leads"))) is None
    assert cap.data_quality_sentence(note.clear()) is None


def test_the_data_quality_note_reads_the_store_for_the_leads_behind_a_number():
    note = cap.data_quality_note(cap.lead_needs(con_of(), as_of=D), lead_ids=pl.Series(["1", "3"]))
    assert note.select("need", "lacking").rows() == [("creation date", 0), ("owner", 1),
                                                     ("firmographics (industry and size)", 1)]


@pytest.mark.parametrize("as_of", [date(2026, 1, 31), date(2026, 6, 30), date(2026, 10, 31)])
def test_lead_needs_reads_only_its_columns_and_gives_the_note_the_capture_frame_gives(bundled_sample, tmp_path,
                                                                                     as_of):
    """The pages' note reads lead_needs.sql (no first touches, conversions or attributes): on the sample, every
    lead or a third of them, the same note as `data_quality_note` over the whole capture frame."""
    from funnel.store.db import connect
    from tests.apptest import copied

    con = connect(copied(bundled_sample, tmp_path / "sample.duckdb"), read_only=True)
    captured = cap.capture_frame(con, settings=default_settings(), as_of=as_of)
    some = captured.get_column(sc.LEAD_ID).gather_every(3)
    needs = cap.lead_needs(con, as_of=as_of)
    assert cap.data_quality_note(needs).equals(cap.data_quality_note(captured))
    assert cap.data_quality_note(needs, lead_ids=some).equals(cap.data_quality_note(captured, lead_ids=some))
