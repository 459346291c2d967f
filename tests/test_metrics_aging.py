"""Aging at D: given the hand-made scenario, expect these days in stage, buckets, SLA breaches and
Kaplan–Meier time-in-stage quantiles (stays still open at D are censored, never dropped)."""

from __future__ import annotations

from datetime import date

from funnel.analyses import aging_buckets, aging_leads, stage_aging
from tests.test_metrics_support import SETTINGS, filters, rows, scenario

AGING = ("stage", "leads", "dated", "median_days", "p80_days", "p90_days", "stays", "sla_days", "over_sla",
         "0–7", "8–30", "31–90", "90+")


def test_stage_aging():
    got = stage_aging(scenario(), filters(), settings=SETTINGS)
    assert rows(got, *AGING) == [
        ("subscriber", 0, 0, 9, 9, 9, 1, None, None, 0, 0, 0, 0),
        # B has been at lead for 88 days, G has no date. Lead stays: 0, 4, 10, 14, 90, 91 days ended,
        # B's 88 still open: the median is 14 (4 of 7 ended by then), p80 and p90 91.
        ("lead", 2, 1, 14, 91, 91, 7, None, None, 0, 0, 1, 0),
        # D (placed at creation) and H at 119 days, I at 29, J at 28: all over the 5-day SLA. Of the
        # five logged mql stays only two ended (12 and 27 days): the median is not reached.
        ("mql", 4, 4, None, None, None, 5, 5, 4, 0, 2, 0, 2),
        ("sql", 1, 1, 9, None, None, 2, 14, 1, 0, 0, 0, 1),
        ("opportunity", 0, 0, 19, 19, 19, 1, 60, 0, 0, 0, 0, 0),
        ("customer", 1, 1, None, None, None, 1, None, None, 0, 0, 1, 0),
        ("former_customer", 0, 0, None, None, None, 0, None, None, 0, 0, 0, 0),
    ]


def test_aging_leads_are_the_rows_behind():
    got = aging_leads(scenario(), filters(), settings=SETTINGS)
    assert rows(got, "lead_id", "stage", "days_in_stage", "bucket", "over_sla") == [
        ("B", "lead", 88, "31–90", None), ("G", "lead", None, None, None),
        ("D", "mql", 119, "90+", True), ("H", "mql", 119, "90+", True), ("I", "mql", 29, "8–30", True),
        ("J", "mql", 28, "8–30", True),
        ("C", "sql", 105, "90+", True),
        ("A", "customer", 60, "31–90", None),
    ]


def test_bucket_edges():
    # I entered mql on 04-01: 7 days at 04-08 is still 0–7, 8 days at 04-09 is 8–30.
    seven = aging_leads(scenario(), filters(as_of=date(2026, 4, 8)), settings=SETTINGS)
    eight = aging_leads(scenario(), filters(as_of=date(2026, 4, 9)), settings=SETTINGS)
    assert rows(seven.filter(seven["lead_id"] == "I"), "days_in_stage", "bucket") == [(7, "0–7")]
    assert rows(eight.filter(eight["lead_id"] == "I"), "days_in_stage", "bucket") == [(8, "8–30")]


def test_aging_buckets_long_form_sums_to_the_leads_in_a_stage():
    got = aging_buckets(scenario(), filters(), settings=SETTINGS)
    mql = got.filter(got["stage"] == "mql")
    assert rows(mql, "bucket", "leads") == [("0–7", 0), ("8–30", 2), ("31–90", 0), ("90+", 2)]
    assert got.get_column("leads").sum() == 8  # every lead in a stage at D, G in the undated row
    assert rows(got.filter(got["bucket"].is_null()), "stage", "leads") == [("lead", 1)]


def test_aging_by_segment():
    got = stage_aging(scenario(), filters(), settings=SETTINGS, by="source")
    event = got.filter(got["source"] == "Event")
    assert rows(event.filter(event["stage"] == "mql"), "leads", "over_sla", "8–30", "90+") == [(3, 3, 2, 1)]
    assert got.filter(got["source"].is_not_null()).get_column("leads").sum() == 8
