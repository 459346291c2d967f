"""Stage distribution, its trend and stage flows: given the hand-made scenario, expect these rows."""

from __future__ import annotations

from datetime import date

import polars as pl

from funnel.analyses import distribution_trend, month_ends, stage_distribution, stage_flows
from tests.test_metrics_support import SETTINGS, events, filters, rows, scenario, store


def test_distribution_at_d():
    got = stage_distribution(scenario(), filters(), settings=SETTINGS)
    # A customer; B, G lead; D (placed), H (same-moment entries), I, J mql; C sql; E no stage; F not yet created.
    assert rows(got, "stage", "leads") == [
        ("subscriber", 0), ("lead", 2), ("mql", 4), ("sql", 1), ("opportunity", 0), ("customer", 1),
        ("former_customer", 0), (None, 1)]
    assert got.get_column("leads").sum() == 9
    assert got.get_column("share").to_list()[2] == 4 / 9


def test_distribution_by_segment_sums_to_the_total():
    got = stage_distribution(scenario(), filters(), settings=SETTINGS, by="source")
    segments = got.filter(got["source"].is_not_null())
    assert rows(segments.group_by("source").agg(pl.col("leads").sum()).sort("source"), "source", "leads") == [
        ("(unknown)", 3), ("Event", 3), ("Web", 3)]
    assert rows(got.filter(got["source"] == "Web"), "stage", "leads") == [
        ("subscriber", 0), ("lead", 1), ("mql", 0), ("sql", 1), ("opportunity", 0), ("customer", 1),
        ("former_customer", 0), (None, 0)]
    whole = stage_distribution(scenario(), filters(), settings=SETTINGS)
    assert got.head(8).get_column("source").null_count() == 8
    assert rows(got.head(8), "stage", "leads", "share") == rows(whole, "stage", "leads", "share")


def test_a_segment_filter_counts_only_its_leads():
    got = stage_distribution(scenario(), filters(segments=(("source", ("Event",)),)), settings=SETTINGS)
    assert rows(got, "stage", "leads")[2] == ("mql", 3)
    assert got.get_column("leads").sum() == 3


def test_before_any_data_every_count_is_zero_and_every_share_null():
    con = store(leads=[{"lead_id": "A", "created_at": "2026-01-01"}],
                stage_events=events("A", ("lead", "2026-01-01")))
    got = stage_distribution(con, filters(as_of=date(2025, 12, 31)), settings=SETTINGS)
    assert got.get_column("leads").to_list() == [0] * 8
    assert got.get_column("share").to_list() == [None] * 8


def test_month_ends_run_to_d():
    assert month_ends(date(2026, 1, 15), date(2026, 4, 30)) == [
        date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30)]
    assert month_ends(date(2026, 1, 15), date(2026, 3, 10)) == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 10)]
    assert month_ends(None, date(2026, 3, 10)) == [date(2026, 3, 10)]


def test_trend_is_the_distribution_at_each_month_end():
    got = distribution_trend(scenario(), filters(), settings=SETTINGS)
    table = {(r[0].isoformat(), r[1]): r[2] for r in rows(got, "date", "stage", "leads") if r[2]}
    assert table == {
        ("2026-01-31", "lead"): 2, ("2026-01-31", "mql"): 4, ("2026-01-31", "sql"): 1, ("2026-01-31", None): 1,
        ("2026-02-28", "lead"): 3, ("2026-02-28", "mql"): 2, ("2026-02-28", "sql"): 1,
        ("2026-02-28", "opportunity"): 1, ("2026-02-28", None): 1,
        ("2026-03-31", "lead"): 3, ("2026-03-31", "mql"): 2, ("2026-03-31", "sql"): 1,
        ("2026-03-31", "customer"): 1, ("2026-03-31", None): 1,
        ("2026-04-30", "lead"): 1, ("2026-04-30", "mql"): 4, ("2026-04-30", "sql"): 1,
        ("2026-04-30", "customer"): 1, ("2026-04-30", None): 1,
    }
    # The last point equals the distribution at D, less the lead without any date (G).
    at_d = stage_distribution(scenario(), filters(), settings=SETTINGS)
    last = got.filter(got["date"] == date(2026, 4, 30))
    assert last.get_column("leads").sum() == at_d.get_column("leads").sum() - 1


def test_flows_count_every_move():
    got = stage_flows(scenario(), filters(), settings=SETTINGS)
    assert rows(got, "from_stage", "to_stage", "direction", "moves") == [
        (None, "subscriber", "start", 1), (None, "lead", "start", 5), (None, "mql", "start", 1),
        ("subscriber", "lead", "up", 1),
        ("lead", "mql", "up", 5), ("lead", "sql", "up", 1),
        ("mql", "lead", "down", 1), ("mql", "sql", "up", 1),
        ("sql", "opportunity", "up", 1),
        ("opportunity", "customer", "up", 1),
    ]
