"""Segment performance, the weak-segment warning and the rows behind every number: given the
hand-made scenario, expect these counts, rates and statistics."""

from __future__ import annotations

import polars as pl
import pytest

from funnel.analyses import NO_STAGE, leads_behind, segment_performance, weak_segment_warning
from funnel.errors import FunnelError
from tests.test_metrics_support import SETTINGS, events, filters, rows, scenario, store

REACH = ("source", "leads", "reached_mql", "reached_sql", "reached_opportunity", "reached_customer", "closed_deals",
         "won_deals", "win_rate", "won_amount")


def test_segment_performance_by_source():
    got = segment_performance(scenario(), filters(), settings=SETTINGS, by="source")
    assert rows(got, *REACH) == [
        (None, 9, 7, 2, 1, 1, 1, 1, 1.0, 1000.0),
        ("(unknown)", 3, 1, 0, 0, 0, 0, 0, None, 0.0),  # D placed at mql; E no stage; G at lead
        ("Event", 3, 3, 0, 0, 0, 0, 0, None, 0.0),
        ("Web", 3, 3, 2, 1, 1, 1, 1, 1.0, 1000.0),
    ]
    assert got.get_column("share").to_list() == [1.0, 1 / 3, 1 / 3, 1 / 3]
    assert got.get_column("reached_mql_rate").to_list() == [7 / 9, 1 / 3, 1.0, 1.0]
    assert got.get_column("small_sample").to_list() == [True] * 4  # fewer than 30 leads each


def test_every_rate_has_an_interval_a_test_against_the_rest_and_a_correction():
    got = segment_performance(scenario(), filters(), settings=SETTINGS, by="source")
    for rate in ("reached_mql_rate", "reached_customer_rate", "win_rate"):
        for value, low, high in got.select(rate, f"{rate}_lo", f"{rate}_hi").iter_rows():
            assert (value is None) == (low is None) == (high is None)
            if value is not None:
                assert 0.0 <= low <= value <= high <= 1.0
    total = got.row(0, named=True)
    assert total["reached_mql_rate_p_value"] is None and total["reached_mql_rate_q_value"] is None
    web = got.row(3, named=True)
    assert 0.0 < web["reached_mql_rate_p_value"] <= web["reached_mql_rate_q_value"] <= 1.0
    assert web["reached_mql_rate_significant"] is False
    assert web["win_rate_p_value"] is None  # no closed deals outside Web: nothing to compare with


def test_median_days_to_customer_censors_the_leads_not_there_yet():
    con = store(leads=[{"lead_id": x, "created_at": "2026-01-01"} for x in ("X1", "X2", "X3")],
                stage_events=events("X1", ("lead", "2026-01-01"), ("customer", "2026-01-11"))
                + events("X2", ("lead", "2026-01-01"), ("customer", "2026-01-21"))
                + events("X3", ("lead", "2026-01-01")))
    got = segment_performance(con, filters(), settings=SETTINGS)
    assert got.get_column("median_days_to_customer").to_list() == [20]  # 10 and 20 days; X3 open at 119
    # In the scenario only A (59 days) became a customer of 7 timed leads: the median is not reached.
    assert segment_performance(scenario(), filters(), settings=SETTINGS) \
        .get_column("median_days_to_customer").to_list() == [None]


def test_two_dimensions_crossed():
    got = segment_performance(scenario(), filters(), settings=SETTINGS, by=["source", "lifecycle_stage"])
    assert got.columns[:3] == ["source", "lifecycle_stage", "leads"]
    assert got.filter(pl.col("source").is_not_null()).get_column("leads").sum() == 9
    with pytest.raises(FunnelError, match="at most 2"):
        segment_performance(scenario(), filters(), settings=SETTINGS, by=["source", "owner", "lead_status"])
    with pytest.raises(FunnelError, match="no such lead column"):
        segment_performance(scenario(), filters(), settings=SETTINGS, by="shoe_size")


def test_weak_segment_warning():
    def table(paid_leads: int) -> pl.DataFrame:
        return pl.DataFrame({
            "source": [None, "Paid", "Organic", "Referral"],
            "leads": [paid_leads + 400, paid_leads, 300, 100],
            "reached_customer_rate": [0.04, 0.01, 0.05, 0.10],
        })

    warned, text = weak_segment_warning(table(600), by=["source"])
    assert warned and text.startswith("60% of leads sit in Paid")
    warned, text = weak_segment_warning(table(200), by=["source"])
    assert not warned and text.startswith("33% of leads sit in Paid")
    assert weak_segment_warning(table(600).head(2), by=["source"])[0] is False  # one segment: nothing to compare


def test_rows_behind_each_kind_of_number():
    con = scenario()

    def ids(**selector) -> list[str]:
        return leads_behind(con, filters(), settings=SETTINGS, **selector).get_column("lead_id").to_list()

    assert ids(kind="distribution", stage="mql") == ["D", "H", "I", "J"]
    assert ids(kind="distribution", stage=NO_STAGE) == ["E"]
    assert ids(kind="distribution") == ["A", "B", "C", "D", "E", "G", "H", "I", "J"]
    assert ids(kind="conversion", from_stage="lead", outcome="expired") == ["J"]
    assert ids(kind="conversion", from_stage="lead", outcome="open") == ["B"]
    assert ids(kind="conversion", from_stage="mql") == ["A", "B", "C", "H", "I", "J"]
    assert ids(kind="aging", stage="mql", bucket="8–30") == ["I", "J"]
    assert sorted(ids(kind="aging", over_sla=True)) == ["C", "D", "H", "I", "J"]
    aging = leads_behind(con, filters(), settings=SETTINGS, kind="aging", over_sla=True)
    days = aging.get_column("days_in_stage").to_list()
    assert days == sorted(days, reverse=True)  # the longest in the stage first
    assert ids(kind="segment", reached="customer") == ["A"]
    assert ids(kind="segment", reached="mql", segment={"source": "Event"}) == ["H", "I", "J"]
    assert ids(kind="segment", won=True) == ["A"]
    behind = leads_behind(con, filters(), settings=SETTINGS, kind="distribution", stage="customer")
    assert behind.columns[:6] == ["lead_id", "name", "email", "company", "owner", "source"]
    with pytest.raises(FunnelError, match="unknown kind"):
        ids(kind="everything")
    with pytest.raises(FunnelError, match="from_stage is needed"):
        ids(kind="conversion")
