"""Stage histories and the lead frame: given a few rows, expect these entries and columns."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as hst

from funnel.model.history import (
    HISTORY_COLUMNS,
    history_note,
    lead_frame,
    segment_dimensions,
    seniority_by_title,
    stage_history,
    stage_timeline,
)
from tests.test_metrics_support import AS_OF, SETTINGS, events, scenario, store
from tests.test_stages import examples, stores


@hst.composite
def stage_stores(draw):
    """`tests.test_stages.stores`, with some leads carrying a current lifecycle stage (placed from it when the
    log never mentions them) and some without a creation date."""
    rows = draw(stores())
    for lead in rows["leads"]:
        lead["lifecycle_stage"] = draw(hst.sampled_from([None, "lead", "mql", "sql", "customer", "other"]))
        if draw(hst.integers(0, 4)) == 0:
            lead["created_at"] = None
    return rows


def history_rows(history: pl.DataFrame) -> list[tuple]:
    return [(r["lead_id"], r["stage"], r["stage_rank"], r["entered_at"], r["basis"]) for r in history.iter_rows(named=True)]


def test_lifecycle_history_from_events_and_current_stages():
    history = stage_history(scenario(), ladder="lifecycle", settings=SETTINGS, as_of=AS_OF)
    assert dict(history.schema) == HISTORY_COLUMNS
    got = history_rows(history)
    assert got[:6] == [
        ("A", "subscriber", 0, datetime(2026, 1, 1, 10), "stage_event"),
        ("A", "lead", 1, datetime(2026, 1, 10), "stage_event"),
        ("A", "mql", 2, datetime(2026, 1, 20), "stage_event"),
        ("A", "sql", 3, datetime(2026, 2, 1), "stage_event"),
        ("A", "opportunity", 4, datetime(2026, 2, 10), "stage_event"),
        ("A", "customer", 5, datetime(2026, 3, 1), "stage_event"),
    ]
    # D is placed at its current stage on its created date; G (no date at all) undated; E has no
    # lifecycle stage and F was created after D: neither gets an entry.
    assert ("D", "mql", 2, datetime(2026, 1, 1), "current_stage") in got
    assert ("G", "lead", 1, None, "current_stage") in got
    assert not {"E", "F"} & {r[0] for r in got}
    # Same timestamp: the entry higher on the ladder comes later.
    assert [r[1] for r in got if r[0] == "H"] == ["lead", "mql"]
    assert history.get_column("lead_id").is_sorted()


def test_history_as_of_an_earlier_day_cuts_at_the_end_of_that_day():
    history = stage_history(scenario(), ladder="lifecycle", settings=SETTINGS, as_of=date(2026, 1, 10))
    assert [r[1] for r in history_rows(history) if r[0] == "A"] == ["subscriber", "lead"]  # lead at 01-10 00:00 counts
    before = stage_history(scenario(), ladder="lifecycle", settings=SETTINGS, as_of=date(2025, 12, 31))
    assert history_rows(before) == [("G", "lead", 1, None, "current_stage")]  # undated: counted at every D


def test_a_lead_the_log_mentions_only_later_is_not_placed_from_its_current_stage():
    con = store(leads=[{"lead_id": "Y", "created_at": "2026-01-01", "lifecycle_stage": "customer"}],
                stage_events=events("Y", ("lead", "2026-03-01")))
    assert stage_history(con, ladder="lifecycle", settings=SETTINGS, as_of=date(2026, 2, 1)).is_empty()


def test_repeated_entries_and_unknown_stages_are_not_new_entries():
    con = store(leads=[{"lead_id": "X", "created_at": "2026-01-01"}],
                stage_events=events("X", ("lead", "2026-01-01"), ("lead", "2026-01-05"), ("mql", "2026-01-06"),
                                    ("nurture", "2026-01-07"), ("mql", "2026-01-08"), ("lead", "2026-01-09")))
    history = stage_history(con, ladder="lifecycle", settings=SETTINGS, as_of=AS_OF)
    assert [(r[1], r[3].day) for r in history_rows(history)] == [("lead", 1), ("mql", 6), ("lead", 9)]


def test_side_states_are_ranked_after_the_ladder_and_flagged():
    con = store(stage_events=events("X", ("customer", "2026-01-01"), ("former_customer", "2026-02-01")))
    history = stage_history(con, ladder="lifecycle", settings=SETTINGS, as_of=AS_OF)
    assert [(r["stage"], r["stage_rank"], r["is_side"]) for r in history.iter_rows(named=True)] == [
        ("customer", 5, False), ("former_customer", 6, True)]


def test_timeline_links_each_entry_to_its_neighbours():
    history = stage_history(scenario(), ladder="lifecycle", settings=SETTINGS, as_of=AS_OF)
    b = stage_timeline(history).filter(pl.col("lead_id") == "B")
    assert b.get_column("prev_rank").to_list() == [None, 1, 2]
    assert b.get_column("next_rank").to_list() == [2, 1, None]
    assert b.get_column("next_at").to_list() == [datetime(2026, 1, 5), datetime(2026, 2, 1), None]
    assert b.get_column("is_first").to_list() == [True, False, False]
    assert b.get_column("is_last").to_list() == [False, False, True]


def test_history_note_says_what_was_used():
    history = stage_history(scenario(), ladder="lifecycle", settings=SETTINGS, as_of=AS_OF)
    note = history_note(history, ladder="lifecycle")
    assert "history from stage events: 6 leads" in note
    assert "current stage only: 2 leads" in note and "1 without any date" in note
    assert history_note(history.head(0), ladder="lifecycle").startswith("No stage history")
    funnel = stage_history(scenario(), ladder="funnel", settings=SETTINGS, as_of=AS_OF)
    assert "history from the funnel stage engine's evidence" in history_note(funnel, ladder="funnel")


def test_lead_frame_dimensions():
    con = store(
        accounts=[{"account_id": "C1", "name": "Acme", "industry": "Software", "employees": 120, "country": "DE"}],
        leads=[
            {"lead_id": "L1", "account_id": "C1", "title": "VP Sales", "country": "US", "source": "Web",
             "created_at": "2026-01-01"},
            {"lead_id": "L2", "company": "Solo", "title": "Director of IT", "industry": "Retail", "employees": 5000},
            {"lead_id": "L3", "title": "Coordinator, Ops"},
            {"lead_id": "L4", "title": "Head   of Growth", "employees": 5001},
        ],
    )
    con.execute("UPDATE leads SET attributes = map(['plan', 'region'], ['pro', 'EMEA']) WHERE lead_id = 'L1'")
    frame = lead_frame(con, settings=SETTINGS).sort("lead_id")
    got = frame.select("lead_id", "country", "industry", "employees", "size_band", "seniority", "company",
                       "attr:plan", "attr:region").rows()
    assert got == [
        ("L1", "US", "Software", 120, "51–200", "vp", "Acme", "pro", "EMEA"),  # lead's country, account's industry
        ("L2", None, "Retail", 5000, "1001–5000", "director", "Solo", None, None),  # "cto" inside "Director" is no word
        ("L3", None, None, None, None, "individual", None, None, None),  # "coordinator" is not "coo"
        ("L4", None, None, 5001, "5001+", "vp", None, None, None),
    ]
    assert segment_dimensions(frame) == ["source", "country", "industry", "size_band", "seniority", "attr:plan",
                                         "attr:region"]
    only = lead_frame(con, settings=SETTINGS, dimensions=["seniority", "source"])
    assert only.columns == ["lead_id", "seniority", "source"]


def test_seniority_follows_the_configured_order():
    titles = pl.Series(["Chief Marketing Officer", "Marketing Manager", "Team Lead", "Intern", "Owner", None, "Chef"])
    assert seniority_by_title(titles, SETTINGS).to_list() == [
        "executive", "manager", "manager", "entry", "executive", None, None]


def test_lead_frame_takes_icp_quadrant_and_tags_from_the_scores():
    pytest.importorskip("funnel.model.scoring")
    frame = lead_frame(scenario(), settings=SETTINGS, as_of=AS_OF, dimensions=["quadrant", "tags", "icp"])
    assert frame.columns == ["lead_id", "quadrant", "tags", "icp"]
    scored = frame.filter(pl.col("quadrant").is_not_null())
    assert scored.height > 0 and "" not in scored.get_column("tags").to_list()


@given(rows=stage_stores(), days=hst.lists(hst.integers(-5, 420), min_size=1, max_size=4),
       model=hst.booleans())
@examples(40)
def test_the_history_of_a_later_day_cut_at_d_is_the_history_at_d(rows, days, model):
    """Both ladders are causal: `stage_history` at the latest day, cut at D, is `stage_history` at D (the monthly
    review reads one history for every month end). Leads placed from their current lifecycle stage, undated
    ones included, and a stored lead model or none."""
    from funnel.model.build import build_funnel_entries
    from funnel.model.history import history_until
    from tests.test_stages import SETTINGS as STAGE_SETTINGS
    from tests.test_stages import d, load

    con = load(rows)
    if model:
        build_funnel_entries(con, settings=STAGE_SETTINGS)
    latest = d(max(days))
    for ladder in ("lifecycle", "funnel"):
        whole = stage_history(con, ladder=ladder, settings=STAGE_SETTINGS, as_of=latest)
        for day in days:
            assert history_until(whole, d(day)).equals(
                stage_history(con, ladder=ladder, settings=STAGE_SETTINGS, as_of=d(day))), (ladder, day)
