"""The handoff review: given a few hand-made leads, expect hand-computed handoff numbers."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from funnel import schema as sc
from funnel.analyses import handoff
from funnel.analyses.conversion import deal_losses
from funnel.analyses.inputs import analysis_inputs
from funnel.charts import handoff as charts_handoff
from funnel.config import default_settings
from funnel.errors import FunnelError
from funnel.filters import Filters
from funnel.store.db import connect, memory_connection

SETTINGS = default_settings()  # window 90 days, MQL SLA 5 days, min_sample 30
D = date(2026, 4, 30)
COUNTS = ("mqls", "leads", "accepted", "recycled", "expired", "pending", "touched", "untouched", "sla_breaches",
          "bounced", "recycled_after_acceptance")


def store(con=None, **tables: list[dict]):
    """A store (a fresh in-memory one unless given) holding the given rows (table name → list of row dicts)."""
    con = memory_connection() if con is None else con
    for name, rows in tables.items():
        if not rows:
            continue
        spec = sc.TABLES[name]
        schema = {c: spec.column(c).dtype for c in rows[0]}
        incoming = pl.DataFrame(rows, schema=schema, orient="row")
        con.register("incoming", incoming.to_arrow())
        con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM incoming").fetchall()
        con.unregister("incoming")
    return con


def t(text: str) -> datetime:
    return datetime.fromisoformat(text)


def lead(lead_id: str, source: str | None, *, created: str = "2025-12-01 09:00", lifecycle: str | None = None,
         owner: str | None = "sdr@acme.test") -> dict:
    return {sc.LEAD_ID: lead_id, sc.NAME: f"Person {lead_id}", sc.EMAIL: f"{lead_id.lower()}@example.com",
            sc.SOURCE: source, sc.OWNER: owner, sc.CREATED_AT: t(created), sc.LIFECYCLE_STAGE: lifecycle}


def entry(lead_id: str, stage: str, at: str, reason: str | None = None) -> dict:
    return {sc.LEAD_ID: lead_id, sc.LADDER: sc.LIFECYCLE, sc.STAGE: stage, sc.ENTERED_AT: t(at), sc.REASON: reason}


def touch(lead_id: str, at: str, activity_type: str = "sales_touch") -> dict:
    return {sc.ACTIVITY_ID: f"{lead_id}-{at}-{activity_type}", sc.LEAD_ID: lead_id, sc.ACTIVITY_TYPE: activity_type,
            sc.OCCURRED_AT: t(at)}


# Given: L1 accepted exactly at the window's end (90 days); L2 accepted a day too late (expired);
# L3 sent back from MQL after exactly 5 days (the SLA's edge) with a reason; L4 ping-pong: accepted,
# recycled after acceptance, back at MQL (bounced, pending, over the SLA, never touched again);
# L5 a fresh pending MQL without a source; L6 skipped MQL (lead → SQL: under the implicit policy an
# entry into MQL accepted at once, as the conversion step counts it); L7 became MQL after D; L8 has
# no stage log (placed at MQL from its current stage: not a move, so no handoff); L9 sent back to
# subscriber without a reason, never touched. Email opens are not sales touches.
LEADS = [lead("L1", "Paid"), lead("L2", "Paid"), lead("L3", "Event"), lead("L4", "Event"), lead("L5", None),
         lead("L6", "Paid"), lead("L7", "Paid"),
         lead("L8", "Paid", created="2026-04-29 12:00", lifecycle="Marketing Qualified Lead"),
         lead("L9", "Referral")]
EVENTS = [
    entry("L1", "lead", "2025-12-01 09:00"), entry("L1", "mql", "2026-01-01 09:00"),
    entry("L1", "sql", "2026-04-01 08:00"),
    entry("L2", "lead", "2025-12-01 09:00"), entry("L2", "mql", "2026-01-01 09:00"),
    entry("L2", "sql", "2026-04-02 09:00"),
    entry("L3", "lead", "2025-12-01 09:00"), entry("L3", "mql", "2026-03-01 10:00"),
    entry("L3", "lead", "2026-03-06 08:00", "Not a fit"),
    entry("L4", "lead", "2025-12-01 09:00"), entry("L4", "mql", "2026-02-01 10:00"),
    entry("L4", "sql", "2026-02-03 10:00"), entry("L4", "lead", "2026-02-20 10:00", "Bad timing"),
    entry("L4", "mql", "2026-04-20 10:00"),
    entry("L5", "lead", "2025-12-01 09:00"), entry("L5", "mql", "2026-04-28 08:00"),
    entry("L6", "lead", "2025-12-01 09:00"), entry("L6", "sql", "2026-02-01 09:00"),
    entry("L7", "lead", "2025-12-01 09:00"), entry("L7", "mql", "2026-05-03 09:00"),
    entry("L9", "lead", "2025-12-01 09:00"), entry("L9", "mql", "2026-03-10 09:00"),
    entry("L9", "subscriber", "2026-03-12 09:00"),
]
ACTIVITIES = [
    touch("L1", "2026-01-01 12:00"), touch("L3", "2026-03-02 10:00"), touch("L4", "2026-02-01 14:00"),
    touch("L5", "2026-04-28 10:00"), touch("L2", "2026-01-02 09:00", "email_open"),
    touch("L2", "2025-12-31 09:00"),  # before the MQL entry: not speed-to-lead
    touch("L7", "2026-05-04 09:00"),
]


@pytest.fixture
def con():
    connection = store(leads=LEADS, stage_events=EVENTS, activities=ACTIVITIES)
    yield connection
    connection.close()


def review(con, **kwargs) -> pl.DataFrame:
    by = kwargs.pop("by", None)
    return handoff.handoff_review(con, settings=SETTINGS, filters=Filters(as_of=D, **kwargs), by=by)


def test_total_row_hand_computed(con):
    total = review(con).row(0, named=True)
    assert total == {
        "segment": None, "mqls": 8, "leads": 7, "accepted": 3, "recycled": 2, "expired": 1, "pending": 2,
        "acceptance_rate": pytest.approx(0.5), "acceptance_rate_lo": pytest.approx(0.1876, abs=1e-4),
        "acceptance_rate_hi": pytest.approx(0.8124, abs=1e-4), "small_sample": True,
        "touched": 4, "untouched": 4,
        # Kaplan–Meier over 2, 3, 4, 24 hours (touched) and 254, 1239, 2127, 2871 hours (censored at D
        # or at the next MQL entry): S(24) = 4/8, so the median is 24 h; p90 is never reached.
        "speed_to_lead_median_hours": 24.0, "speed_to_lead_p90_hours": None,
        "sla_breaches": 3, "bounced": 1, "recycled_after_acceptance": 1,
    }


def test_breakdown_by_source(con):
    rows = review(con, by="source")
    assert rows.get_column("segment").to_list() == [None, "Event", "Paid", "(unknown)", "Referral"]
    picked = rows.select("segment", "mqls", "leads", "accepted", "recycled", "expired", "pending",
                         "acceptance_rate", "speed_to_lead_median_hours").rows()
    assert picked[1:] == [
        ("Event", 3, 2, 1, 1, 0, 1, 0.5, 24.0),
        ("Paid", 3, 3, 2, 0, 1, 0, 2 / 3, None),
        ("(unknown)", 1, 1, 0, 0, 0, 1, None, 2.0),
        ("Referral", 1, 1, 0, 1, 0, 0, 0.0, None),
    ]
    unknown = rows.row(3, named=True)
    assert unknown["acceptance_rate_lo"] is None and unknown["small_sample"] is True


def test_window_boundary_and_sla_boundary(con):
    rows = handoff.handoff_leads(con, settings=SETTINGS, filters=Filters(as_of=D), kind="accepted")
    assert rows.select(sc.LEAD_ID, "days_at_mql", "sla_breached").rows() == [("L1", 90, True), ("L6", 0, False),
                                                                                ("L4", 2, False)]
    expired = handoff.handoff_leads(con, settings=SETTINGS, filters=Filters(as_of=D), kind="expired")
    assert expired.select(sc.LEAD_ID, "days_at_mql").rows() == [("L2", 91)]
    recycled = handoff.handoff_leads(con, settings=SETTINGS, filters=Filters(as_of=D), kind="recycled")
    assert recycled.select(sc.LEAD_ID, "days_at_mql", "sla_breached", sc.REASON).rows() == [
        ("L3", 5, False, "Not a fit"), ("L9", 2, False, handoff.NO_REASON)]


def test_lists_behind_each_count(con):
    def ids(kind: str, **kwargs) -> list[str]:
        rows = handoff.handoff_leads(con, settings=SETTINGS, filters=Filters(as_of=D), kind=kind, **kwargs)
        return rows.get_column(sc.LEAD_ID).to_list()

    assert ids("pending") == ["L4", "L5"]
    assert ids("breached") == ["L1", "L2", "L4"]
    assert ids("bounced") == ["L4"]
    assert ids("untouched") == ["L2", "L6", "L9", "L4"]
    assert ids("pending", by="source", segment="(unknown)") == ["L5"]
    assert ids("recycled", by="source", segment="Event") == ["L3"]
    with pytest.raises(FunnelError):
        ids("lost")


def test_ping_pong_lead_in_detail(con):
    rows = handoff.handoff_leads(con, settings=SETTINGS, filters=Filters(as_of=D), kind="untouched")
    second = rows.filter(pl.col(sc.LEAD_ID) == "L4").row(0, named=True)
    assert second["mql_at"] == t("2026-04-20 10:00") and second["bounced"] and second["outcome"] == "pending"
    assert second["days_at_mql"] == 10 and second["sla_breached"]
    accepted = handoff.handoff_leads(con, settings=SETTINGS, filters=Filters(as_of=D), kind="accepted")
    first = accepted.filter(pl.col(sc.LEAD_ID) == "L4").row(0, named=True)
    assert first["hours_to_touch"] == 4.0 and first["recycled_after_acceptance"]
    assert first[sc.REASON] == "Bad timing" and first["returned_from"] == "after_acceptance"


def test_recycle_reasons(con):
    reasons = handoff.recycle_reasons(con, settings=SETTINGS, filters=Filters(as_of=D))
    assert reasons.rows() == [("(no reason given)", 1, 1 / 3, 1, 0), ("Bad timing", 1, 1 / 3, 0, 1),
                              ("Not a fit", 1, 1 / 3, 1, 0)]


def test_as_of_replays_an_earlier_day(con):
    total = handoff.handoff_review(con, settings=SETTINGS, filters=Filters(as_of=date(2026, 2, 10))).row(0, named=True)
    # L1 and L2 still wait (their SQL entries lie after D); L4 is accepted and not yet recycled; L6
    # skipped MQL on 02-01 (accepted at once).
    assert (total["mqls"], total["accepted"], total["pending"], total["recycled_after_acceptance"]) == (4, 2, 2, 0)
    assert total["acceptance_rate"] == 1.0


def test_period_limits_the_cohort(con):
    total = review(con, period_start=date(2026, 2, 1), period_end=date(2026, 3, 31)).row(0, named=True)
    assert (total["mqls"], total["accepted"], total["recycled"], total["bounced"]) == (4, 2, 2, 0)  # L3, L4, L6, L9


@pytest.mark.parametrize("by", [None, "source"])
def test_rows_from_shared_passes_and_prepared_inputs_are_a_fresh_read(con, by):
    """The monthly review and the Handoff page read the passes once per D and reuse prepared inputs: the rows are
    those of a fresh read for every period."""
    passes = handoff.handoff_passes(con, settings=SETTINGS, as_of=D)
    whole = analysis_inputs(con, Filters(as_of=D, ladder=sc.LIFECYCLE), settings=SETTINGS, by=by)
    for start, end in ((None, None), (date(2026, 2, 1), date(2026, 3, 31)), (date(2026, 1, 1), date(2026, 1, 31))):
        filters = Filters(as_of=D, period_start=start, period_end=end)
        prepared = replace(whole, filters=replace(whole.filters, period_start=start, period_end=end))
        shared = handoff.handoff_rows_of(prepared, passes, deal_losses(con, as_of=D), by=by)
        assert shared.equals(handoff.handoff_rows(con, settings=SETTINGS, filters=filters, by=by))


def test_end_of_day_counts():
    con = store(leads=[lead("A", "Paid")], stage_events=[entry("A", "mql", "2026-04-30 23:59:59")])
    rows = handoff.handoff_review(con, settings=SETTINGS, filters=Filters(as_of=D))
    assert rows.get_column("mqls").to_list() == [1]
    earlier = handoff.handoff_review(con, settings=SETTINGS, filters=Filters(as_of=date(2026, 4, 29)))
    assert earlier.row(0, named=True)["mqls"] == 0 and earlier.row(0, named=True)["acceptance_rate"] is None


def test_empty_store_gives_a_zero_total_row():
    rows = handoff.handoff_review(memory_connection(), settings=SETTINGS, filters=Filters(as_of=D), by="owner")
    assert rows.height == 1 and rows.row(0, named=True)["mqls"] == 0
    assert rows.schema == pl.Schema(handoff.REVIEW_SCHEMA)
    assert handoff.recycle_reasons(memory_connection(), settings=SETTINGS, filters=Filters(as_of=D)).is_empty()


def test_unknown_breakdown_is_refused(con):
    with pytest.raises(FunnelError):
        review(con, by="email")
    with pytest.raises(FunnelError):
        review(con, by="no_such_column")


def test_recycle_reasons_figure_data():
    reasons = pl.DataFrame({"reason": ["No budget", "<b>x</b>"], "leads": [3, 1], "share": [0.75, 0.25],
                            "rejected_at_mql": [1, 1], "after_acceptance": [2, 0]})
    figure = charts_handoff.recycle_reasons_figure(reasons)
    assert figure.layout.title.text and figure.layout.xaxis.title.text and figure.layout.yaxis.title.text
    assert [list(trace.y) for trace in figure.data] == [["&lt;b&gt;x&lt;/b&gt;", "No budget"]] * 2
    assert [list(trace.x) for trace in figure.data] == [[1, 1], [0, 2]]


def test_page_lists_the_handoffs_behind_a_selected_segment(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    db = tmp_path / "handoff.duckdb"
    store(connect(db), leads=LEADS, stage_events=EVENTS, activities=ACTIVITIES).close()
    monkeypatch.setenv("FUNNEL_DB", str(db))
    monkeypatch.setenv("FUNNEL_LOAD_SAMPLE", "0")
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/handoff.py").run()
    at.date_input(key="as_of").set_value(D).run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["MQLs"] == "8"
    at.session_state["handoff_table_source"] = {"selection": {"rows": [1], "columns": [], "cells": []}}
    at.segmented_control(key="handoff_kind").set_value("pending").run()
    assert not at.exception
    assert at.dataframe[1].value[sc.LEAD_ID].tolist() == ["L4"]  # the Event row's pending handoff
    assert [d.label for d in at.download_button] == ["Download CSV", "Download XLSX"]
    at.session_state["hygiene_table"] = {"selection": {"rows": [5], "columns": [], "cells": []}}  # no_engagement
    at.run()
    assert not at.exception
    assert at.dataframe[-1].value[sc.LEAD_ID].tolist() == ["L1", "L2", "L6", "L7"]


# --- properties ---------------------------------------------------------------------------------

STAGES = sc.LIFECYCLE_STAGES + sc.LIFECYCLE_SIDE_STAGES
START = datetime(2026, 1, 1)

journeys = st.lists(
    st.tuples(
        st.sampled_from(["Paid", "Event", None]),
        st.lists(st.tuples(st.sampled_from(STAGES), st.integers(0, 160), st.sampled_from([None, "No budget", "Price"])),
                 max_size=6),
        st.lists(st.integers(0, 160 * 24), max_size=3),
    ),
    max_size=8,
)


def journey_store(leads):
    lead_rows, events, touches = [], [], []
    for i, (source, stages, touch_hours) in enumerate(leads):
        lead_id = f"P{i}"
        lead_rows.append(lead(lead_id, source, created="2026-01-01 00:00"))
        for stage, day, reason in stages:
            events.append({sc.LEAD_ID: lead_id, sc.LADDER: sc.LIFECYCLE, sc.STAGE: stage,
                           sc.ENTERED_AT: START + timedelta(days=day, hours=9), sc.REASON: reason})
        for n, hours in enumerate(touch_hours):
            touches.append({sc.ACTIVITY_ID: f"{lead_id}-{n}", sc.LEAD_ID: lead_id, sc.ACTIVITY_TYPE: "sales_touch",
                            sc.OCCURRED_AT: START + timedelta(hours=hours)})
    # the store keeps one row per stage entry key
    events = list({(e[sc.LEAD_ID], e[sc.STAGE], e[sc.ENTERED_AT]): e for e in events}.values())
    return store(leads=lead_rows, stage_events=events, activities=touches)


@hsettings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(leads=journeys, as_of_day=st.integers(0, 200), window=st.sampled_from([0, 7, 90]))
def test_outcomes_add_up_and_breakdowns_sum_to_the_total(leads, as_of_day, window):

    settings = replace(SETTINGS, conversion=replace(SETTINGS.conversion, window_days=window))
    con = journey_store(leads)
    filters = Filters(as_of=(START + timedelta(days=as_of_day)).date())
    rows = handoff.handoff_review(con, settings=settings, filters=filters, by="source")
    total = rows.row(0, named=True)
    assert total["segment"] is None
    for row in rows.iter_rows(named=True):
        assert row["accepted"] + row["recycled"] + row["expired"] + row["pending"] == row["mqls"]
        assert row["touched"] + row["untouched"] == row["mqls"]
        assert row["leads"] <= row["mqls"] and row["bounced"] <= row["mqls"] and row["sla_breaches"] <= row["mqls"]
        decided = row["accepted"] + row["recycled"] + row["expired"]
        if decided == 0:
            assert row["acceptance_rate"] is None and row["acceptance_rate_lo"] is None
        else:
            assert 0.0 <= row["acceptance_rate_lo"] <= row["acceptance_rate"] <= row["acceptance_rate_hi"] <= 1.0
    segments = rows.slice(1)
    for column in COUNTS:
        if column != "leads":  # a lead sits in one segment, so leads add up too
            assert segments.get_column(column).sum() == total[column], column
    assert segments.get_column("leads").sum() == total["leads"]

    for kind, column in (("pending", "pending"), ("breached", "sla_breaches"), ("recycled", "recycled"),
                         ("bounced", "bounced"), ("untouched", "untouched"), ("accepted", "accepted")):
        assert handoff.handoff_leads(con, settings=settings, filters=filters, kind=kind).height == total[column]
    reasons = handoff.recycle_reasons(con, settings=settings, filters=filters)
    returned = handoff.handoff_leads(con, settings=settings, filters=filters, kind="recycled")
    assert reasons.get_column("after_acceptance").sum() == total["recycled_after_acceptance"]
    assert reasons.get_column("leads").sum() >= returned.filter(pl.col("returned_at").is_not_null()).height
    if reasons.height:
        assert reasons.get_column("share").sum() == pytest.approx(1.0)

    narrowed = handoff.handoff_review(con, settings=settings, by=None, filters=Filters(
        as_of=filters.as_of, period_start=(START + timedelta(days=30)).date()))
    assert narrowed.row(0, named=True)["mqls"] <= total["mqls"]


# --- one classification: the Handoff page's acceptance is the Conversion page's MQL → SQL rate ------

PAIRS = (("mqls", "entered"), ("accepted", "advanced"), ("recycled", "lost"), ("expired", "expired"),
         ("pending", "open"), ("acceptance_rate", "rate"), ("acceptance_rate_lo", "rate_lo"),
         ("acceptance_rate_hi", "rate_hi"))


def assert_handoff_matches_conversion(con, filters: Filters, *, settings=SETTINGS, by: str | None = None) -> None:
    """Every handoff row (total and per `by` value) has the counts and rate of the MQL → SQL row of
    stage_conversion on the same filters and settings."""
    from funnel.analyses.conversion import stage_conversion

    review_rows = handoff.handoff_review(con, settings=settings, filters=filters, by=by)
    steps = stage_conversion(con, filters, settings=settings, by=by).filter(
        pl.col("from_stage").cast(pl.String) == "mql")
    conversion = {(row[by] if by else None): row for row in steps.iter_rows(named=True)}
    for row in review_rows.iter_rows(named=True):
        step = conversion[row["segment"]]
        assert {h: row[h] for h, _ in PAIRS} == {h: step[c] for h, c in PAIRS}, row["segment"]


@pytest.mark.parametrize("filters", [
    Filters(as_of=D), Filters(as_of=date(2026, 2, 10)),
    Filters(as_of=D, period_start=date(2026, 2, 1), period_end=date(2026, 3, 31)),
    Filters(as_of=D, segments=(("source", ("Paid", "Event")),)),
])
def test_acceptance_is_the_conversion_mql_rate_on_a_hand_made_store(con, filters):
    assert_handoff_matches_conversion(con, filters)
    assert_handoff_matches_conversion(con, filters, by="source")
    strict = replace(SETTINGS, conversion=replace(SETTINGS.conversion, skipped_stages="strict", window_days=30))
    assert_handoff_matches_conversion(con, filters, settings=strict)


@pytest.fixture(scope="module")
def sample_store():
    """The bundled sample in memory, imported file by file as `make run` loads it."""
    from funnel.ingest.importer import prepare_import, write_import
    from funnel.model.identity import rebuild_identity

    con = memory_connection()
    folder = Path(__file__).resolve().parents[1] / "sample_data"
    for name in ("accounts.csv", "leads.csv", "stage_events.csv", "activities.csv", "deals.csv"):
        write_import(con, prepare_import(folder / name, settings=SETTINGS))
    rebuild_identity(con, settings=SETTINGS)
    yield con
    con.close()


def test_acceptance_is_the_conversion_mql_rate_on_the_sample(sample_store):
    for as_of in (date(2026, 10, 31), date(2026, 6, 30)):
        assert_handoff_matches_conversion(sample_store, Filters(as_of=as_of))
        assert_handoff_matches_conversion(sample_store, Filters(as_of=as_of, period_start=date(2026, 1, 1)), by="source")
        assert_handoff_matches_conversion(sample_store, Filters(as_of=as_of, segments=(("source", ("Organic search",)),)))
    total = handoff.handoff_review(sample_store, settings=SETTINGS, filters=Filters(as_of=date(2026, 10, 31))).row(0, named=True)
    assert total["accepted"] > 0 and total["recycled"] > 0 and total["expired"] > 0  # the sample exercises each


@hsettings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(leads=journeys, as_of_day=st.integers(0, 200), window=st.sampled_from([0, 7, 90]),
       skipped=st.sampled_from(["implicit", "strict"]))
def test_acceptance_is_the_conversion_mql_rate_for_any_journeys(leads, as_of_day, window, skipped):
    settings = replace(SETTINGS, conversion=replace(SETTINGS.conversion, window_days=window, skipped_stages=skipped))
    con = journey_store(leads)
    assert_handoff_matches_conversion(con, Filters(as_of=(START + timedelta(days=as_of_day)).date()),
                                      settings=settings, by="source")
