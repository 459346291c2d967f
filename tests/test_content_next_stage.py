"""Content followed by the next stage (the Routing page): hand-computed rows from a given funnel history,
and the same table whether the stays are read from the stored lead model or from the engine's history."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import polars as pl
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from funnel import schema as sc
from funnel.analyses.routing import content_next_stage
from funnel.config import default_settings
from funnel.errors import FunnelError
from funnel.model import stages
from funnel.model.build import build_funnel_entries
from funnel.model.materialised import content_views_are_current, funnel_is_current, write_content_views
from tests.stores import store

SETTINGS = default_settings()  # window 90 days; content_view and webinar_registration are content types
D = date(2026, 3, 31)
RANK = {stage: rank for rank, stage in enumerate(SETTINGS.ladders.funnel)}


def history(rows: list[tuple[str, str, str, int]]) -> pl.DataFrame:
    """A funnel history from (lead, stage, entered at, entry order) rows."""
    return pl.DataFrame([{sc.LEAD_ID: lead, sc.STAGE: stage, stages.STAGE_RANK: RANK[stage],
                          sc.ENTERED_AT: datetime.fromisoformat(at), sc.REASON: None, stages.IS_SIDE: False,
                          stages.EVIDENCE_TYPE: None, stages.EVIDENCE_ID: None, stages.EVIDENCE_AT: None,
                          stages.ENTRY_ORDER: order} for lead, stage, at, order in rows],
                        schema=stages.HISTORY_SCHEMA)


def view(activity_id: str, lead: str, kind: str, at: str) -> dict:
    return {sc.ACTIVITY_ID: activity_id, sc.LEAD_ID: lead, sc.ACTIVITY_TYPE: kind,
            sc.OCCURRED_AT: datetime.fromisoformat(at)}


def test_each_stay_counts_its_first_view_of_each_type_and_whether_the_next_stage_came_within_the_window():
    con = store(
        leads=[{sc.LEAD_ID: lead, sc.CREATED_AT: datetime(2025, 9, 1)} for lead in "ABCD"],
        activities=[
            view("a0", "A", "content_view", "2025-12-31 09:00"),  # before A's first stay: no stay
            view("a1", "A", "content_view", "2026-01-05 09:00"),  # awareness: the first view, 15 days to interest
            view("a2", "A", "content_view", "2026-01-07 09:00"),  # awareness again: not a second stay
            view("a3", "A", "email_open", "2026-01-08 09:00"),  # not a content type
            view("a4", "A", "content_view", "2026-01-25 09:00"),  # interest: 16 days to intent
            view("a5", "A", "webinar_registration", "2026-02-15 09:00"),  # intent, no next stage, 44 days by D
            view("b1", "B", "content_view", "2026-01-02 09:00"),  # awareness, next stage after D, 88 days by D
            view("b2", "B", "content_view", "2026-04-05 09:00"),  # after D
            view("c1", "C", "content_view", "2025-10-05 09:00"),  # awareness, interest 119 days later
            view("d1", "D", "content_view", "2026-01-10 12:00"),  # consideration: interest ended the moment it began
        ])
    given_history = history([
        ("A", "awareness", "2026-01-01 00:00", 1), ("A", "interest", "2026-01-20 00:00", 2),
        ("A", "intent", "2026-02-10 00:00", 3),
        ("B", "awareness", "2026-01-01 00:00", 1),  # B's interest on 2026-06-01 is after D: not in the history at D
        ("C", "awareness", "2025-10-01 00:00", 1), ("C", "interest", "2026-02-01 00:00", 2),
        ("D", "awareness", "2026-01-01 00:00", 1), ("D", "interest", "2026-01-10 00:00", 2),
        ("D", "consideration", "2026-01-10 00:00", 3),
    ])
    got = content_next_stage(con, settings=SETTINGS, as_of=D, history=given_history)
    expected = pl.DataFrame([
        # awareness: A advanced in 15 days; B undecided (88 days, no next stage); C decided, not advanced (119 days)
        ("awareness", "content_view", 3, 1, 2, 0.5, 15.0, 15.0),
        ("interest", "content_view", 1, 1, 1, 1.0, 16.0, 16.0),
        ("consideration", "content_view", 1, 0, 0, None, None, None),
        ("intent", "webinar_registration", 1, 0, 0, None, None, None),
    ], schema={"stage": pl.String, "activity_type": pl.String, "leads": pl.Int64, "advanced": pl.Int64,
               "decided": pl.Int64, "rate": pl.Float64, "median_days": pl.Float64, "p80_days": pl.Float64},
        orient="row")
    assert_frame_equal(got.select(expected.columns), expected)
    assert got.filter(pl.col("rate").is_null()).select("low", "high").null_count().row(0) == (2, 2)
    assert got.filter(pl.col("rate").is_not_null()).select(
        ((pl.col("low") <= pl.col("rate")) & (pl.col("rate") <= pl.col("high"))).all()).item()


# --- stored or computed: the same table ------------------------------------------------------------

MOMENTS = ("2025-11-03 10:00", "2025-12-01 00:00", "2026-01-15 09:30", "2026-02-01 00:00", "2026-02-20 16:00",
           "2026-03-31 23:59", "2026-04-01 00:00", "2026-05-10 08:00")
TYPES = ("page_view", "content_view", "content_download", "form_fill", "webinar_registration", "demo_request",
         "pricing_page_view", "email_open")


@st.composite
def activity_stores(draw) -> dict[str, list[dict]]:
    """A few leads with activities of content and evidence types at moments around D, some at one moment."""
    count = draw(st.integers(1, 5))
    leads = [{sc.LEAD_ID: f"L{i}", sc.CREATED_AT: datetime(2025, 10, 1)} for i in range(count)]
    touches = [view(f"T{i}", f"L{draw(st.integers(0, count - 1))}", draw(st.sampled_from(TYPES)),
                    draw(st.sampled_from(MOMENTS))) for i in range(draw(st.integers(0, 14)))]
    return {"leads": leads, "activities": touches}


@hsettings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables=activity_stores(), as_of=st.sampled_from([date(2026, 1, 31), D, date(2026, 6, 30)]))
def test_the_stored_lead_model_gives_the_table_the_engine_history_gives(tables, as_of):
    con = store(**tables)
    try:
        computed = content_next_stage(con, settings=SETTINGS, as_of=as_of)
        build_funnel_entries(con, settings=SETTINGS)
        assert funnel_is_current(con, SETTINGS)
        stored = content_next_stage(con, settings=SETTINGS, as_of=as_of)
        assert_frame_equal(stored, computed)
        write_content_views(con, settings=SETTINGS)  # the stays' first views to the horizon, cut at D when read
        assert content_views_are_current(con, SETTINGS)
        assert_frame_equal(content_next_stage(con, settings=SETTINGS, as_of=as_of), computed)
        assert (stored.get_column("advanced") <= stored.get_column("decided")).all()
        assert (stored.get_column("decided") <= stored.get_column("leads")).all()
    finally:
        con.close()


def test_the_stored_first_views_follow_the_content_types_and_the_funnel_rules():
    """Other content types or funnel rules make the stored first views stale: the table is computed again (from
    the stored funnel entries), and the part written for the new settings gives the same table."""
    con = store(leads=[{sc.LEAD_ID: "A", sc.CREATED_AT: datetime(2025, 9, 1)}],
                activities=[view("a1", "A", "content_view", "2026-01-05 09:00"),
                            view("a2", "A", "case_study_view", "2026-01-06 09:00"),
                            view("a3", "A", "demo_request", "2026-02-01 09:00")])
    try:
        build_funnel_entries(con, settings=SETTINGS)
        write_content_views(con, settings=SETTINGS)
        assert content_views_are_current(con, SETTINGS)
        other = replace(SETTINGS, routing=replace(SETTINGS.routing, content_types=("case_study_view",)))
        assert not content_views_are_current(con, other)
        computed = content_next_stage(con, settings=other, as_of=D)
        assert computed.get_column("activity_type").to_list() == ["case_study_view"]
        write_content_views(con, settings=other)
        assert content_views_are_current(con, other) and not content_views_are_current(con, SETTINGS)
        assert_frame_equal(content_next_stage(con, settings=other, as_of=D), computed)
        tuned = replace(other, funnel_rules=replace(other.funnel_rules, reactivation_after_days=30))
        assert not content_views_are_current(con, tuned)
    finally:
        con.close()


def test_the_first_views_are_stored_only_from_a_funnel_run_of_the_same_settings():
    con = store(leads=[{sc.LEAD_ID: "A", sc.CREATED_AT: datetime(2025, 9, 1)}],
                activities=[view("a1", "A", "content_view", "2026-01-05 09:00")])
    try:
        build_funnel_entries(con, settings=SETTINGS)
        tuned = replace(SETTINGS, funnel_rules=replace(SETTINGS.funnel_rules, reactivation_after_days=30))
        with pytest.raises(FunnelError, match="no funnel run for these settings"):
            write_content_views(con, settings=tuned)
        assert not content_views_are_current(con, tuned)
    finally:
        con.close()
