"""Stage-to-stage conversion: given the hand-made scenario (and a few deal stories), expect these
hand-computed outcomes. Columns: from, to, entered, advanced, lost, expired, open, rate."""

from __future__ import annotations

from datetime import date

import pytest

from funnel.analyses import (
    conversion_cohorts,
    cumulative_conversion,
    previous_period,
    stage_conversion,
    time_to_convert,
)
from funnel.errors import FunnelError
from funnel.filters import Filters
from tests.test_metrics_support import SETTINGS, events, filters, rows, scenario, store

STEP = ("from_stage", "to_stage", "entered", "advanced", "lost", "expired", "open", "rate")


def test_next_step_conversion_with_implicit_skipped_stages():
    got = stage_conversion(scenario(), filters(), settings=SETTINGS)
    assert rows(got, *STEP) == [
        ("subscriber", "lead", 1, 1, 0, 0, 0, 1.0),
        # A, B, C (jumps to sql), H (same moment), I (90 days) advance; J (91 days) expired; B's re-entry
        # after its recycle (88 days before D) is open.
        ("lead", "mql", 7, 5, 0, 1, 1, 5 / 6),
        # A advances, C's implied mql entry advances at once, B is recycled (lost), H expired, I and J open.
        ("mql", "sql", 6, 2, 1, 1, 2, 0.5),
        ("sql", "opportunity", 2, 1, 0, 1, 0, 0.5),
        ("opportunity", "customer", 1, 1, 0, 0, 0, 1.0),
    ]
    assert got.get_column("implied").to_list() == [0, 0, 1, 0, 0]
    assert got.get_column("excluded").to_list() == [0] * 5


def test_strict_skipped_stages_leave_the_jump_out_of_its_step():
    got = stage_conversion(scenario(), filters(), settings=SETTINGS, skipped="strict")
    assert rows(got, *STEP)[1:3] == [
        ("lead", "mql", 6, 4, 0, 1, 1, 0.8),
        ("mql", "sql", 5, 1, 1, 1, 2, 1 / 3),
    ]
    assert got.get_column("excluded").to_list() == [0, 1, 0, 0, 0]
    assert got.get_column("implied").to_list() == [0] * 5


@pytest.mark.parametrize(("window", "expect"), [
    (90, ("lead", "mql", 7, 5, 0, 1, 1)),  # I advanced exactly 90 days after its entry: inside the window
    (89, ("lead", "mql", 7, 4, 0, 2, 1)),  # … one day more than W: expired; B's re-entry (88 days) still open
    (88, ("lead", "mql", 7, 4, 0, 2, 1)),
    (87, ("lead", "mql", 7, 4, 0, 3, 0)),  # B's re-entry is now more than W days before D
])
def test_both_sides_of_the_window(window, expect):
    got = stage_conversion(scenario(), filters(), settings=SETTINGS, window_days=window)
    assert rows(got, *STEP[:-1])[1] == expect


def test_nothing_decided_gives_a_null_rate_not_zero():
    got = stage_conversion(scenario(), filters(period_start=date(2026, 2, 1)), settings=SETTINGS)
    assert rows(got, *STEP)[1] == ("lead", "mql", 1, 0, 0, 0, 1, None)  # only B's re-entry, still open
    assert rows(got, *STEP)[0] == ("subscriber", "lead", 0, 0, 0, 0, 0, None)
    assert got.get_column("rate_lo").to_list()[0] is None


def test_before_any_data_every_step_is_empty():
    got = stage_conversion(scenario(), filters(as_of=date(2025, 12, 31)), settings=SETTINGS)
    assert got.get_column("entered").to_list() == [0] * 5
    assert got.get_column("rate").to_list() == [None] * 5


def deal_story() -> object:
    opportunity = (("lead", "2026-01-01"), ("mql", "2026-01-02"), ("sql", "2026-01-03"), ("opportunity", "2026-01-04"))
    return store(
        stage_events=events("K", *opportunity)  # its only deal is lost: the opportunity is lost
        + events("K2", *opportunity, ("customer", "2026-02-15"))  # a lost deal while another is open
        + events("K3", *opportunity, ("lead", "2026-01-22", "Recycled after loss")),  # lost, then recycled
        deals=[
            {"deal_id": "d1", "lead_id": "K", "created_at": "2026-01-04", "closed_at": "2026-01-20", "won": False,
             "lost_reason": "Price"},
            {"deal_id": "d2", "lead_id": "K2", "created_at": "2026-01-04", "closed_at": "2026-01-20", "won": False,
             "lost_reason": "Price"},
            {"deal_id": "d3", "lead_id": "K2", "created_at": "2026-01-10", "closed_at": "2026-02-15", "won": True},
            {"deal_id": "d4", "lead_id": "K3", "created_at": "2026-01-04", "closed_at": "2026-01-20", "won": False,
             "lost_reason": "No budget"},
        ])


def test_a_lost_deal_loses_the_opportunity_unless_another_deal_is_open():
    from funnel.analyses import leads_behind

    got = stage_conversion(deal_story(), filters(), settings=SETTINGS)
    assert rows(got, *STEP)[-1] == ("opportunity", "customer", 3, 1, 2, 0, 0, 1 / 3)
    lost = leads_behind(deal_story(), filters(), settings=SETTINGS, kind="conversion", from_stage="opportunity",
                        outcome="lost")
    assert rows(lost, "lead_id", "days_to_decision", "next_stage", "reason") == [
        ("K", 16, None, "Price"), ("K3", 16, None, "No budget")]


def test_cohorts_by_entry_month():
    got = conversion_cohorts(scenario(), filters(), settings=SETTINGS)
    lead_step = got.filter(got["from_stage"] == "lead")
    assert rows(lead_step, "cohort_month", "entered", "advanced", "expired", "open") == [
        (date(2026, 1, 1), 6, 5, 1, 0), (date(2026, 2, 1), 1, 0, 0, 1), (date(2026, 4, 1), 0, 0, 0, 0)]
    assert got.get_column("entered").sum() == stage_conversion(scenario(), filters(), settings=SETTINGS) \
        .get_column("entered").sum()


def test_cumulative_conversion_from_the_first_stage():
    implicit = cumulative_conversion(scenario(), filters(), settings=SETTINGS)
    assert rows(implicit, "stage", "cohort", "reached") == [
        ("subscriber", 6, 6), ("lead", 6, 6), ("mql", 6, 6), ("sql", 6, 2), ("opportunity", 6, 1), ("customer", 6, 1)]
    assert implicit.get_column("step_rate").to_list() == [None, 1.0, 1.0, 1 / 3, 0.5, 1.0]
    strict = cumulative_conversion(scenario(), filters(), settings=SETTINGS, skipped="strict")
    assert strict.get_column("reached").to_list() == [1, 6, 5, 2, 1, 1]


def test_time_to_convert_counts_open_leads_as_censored():
    implicit = time_to_convert(scenario(), filters(), settings=SETTINGS, from_stage="lead", to_stage="mql")
    assert rows(implicit, "leads", "converted", "median_days", "p80_days", "p90_days") == [(6, 6, 10, 90, 91)]
    # Strict: C never entered mql itself, so it is still open (censored at 119 days) and p90 is not reached.
    strict = time_to_convert(scenario(), filters(), settings=SETTINGS, from_stage="lead", to_stage="mql",
                             skipped="strict")
    assert rows(strict, "leads", "converted", "median_days", "p80_days", "p90_days") == [(6, 5, 10, 91, None)]
    with pytest.raises(FunnelError, match="does not come after"):
        time_to_convert(scenario(), filters(), settings=SETTINGS, from_stage="sql", to_stage="mql")


def test_previous_period():
    month = Filters(as_of=date(2026, 4, 30), period_start=date(2026, 4, 1), period_end=date(2026, 4, 30))
    assert previous_period(month) == Filters(as_of=date(2026, 3, 31), period_start=date(2026, 3, 1),
                                             period_end=date(2026, 3, 31))
    quarter = Filters(as_of=date(2026, 7, 10), period_start=date(2026, 4, 1), period_end=date(2026, 6, 30))
    assert previous_period(quarter) == Filters(as_of=date(2026, 4, 10), period_start=date(2026, 1, 1),
                                               period_end=date(2026, 3, 31))
    days = Filters(as_of=date(2026, 4, 30), period_start=date(2026, 4, 11), period_end=date(2026, 4, 20))
    assert previous_period(days) == Filters(as_of=date(2026, 4, 20), period_start=date(2026, 4, 1),
                                            period_end=date(2026, 4, 10))
    assert previous_period(Filters(as_of=date(2026, 4, 30))) is None
