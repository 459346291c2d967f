"""The fit × intent matrix: a hand-computed store, then properties on a generated sample."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funnel.config import QUADRANTS, load_settings
from funnel.ingest.importer import prepare_import, write_import
from funnel.ingest.sample import write_sample
from funnel.model.identity import rebuild_identity
from funnel.model.matrix import (
    QUADRANT_LABELS,
    QUEUES,
    REACTIVATION_QUEUE,
    matrix_cells,
    matrix_quadrants,
    matrix_scores,
    quadrant_action,
    with_thresholds,
    work_queue,
)
from funnel.model.scoring import lead_scores
from funnel.store.db import connect, memory_connection

SETTINGS = load_settings()
D = date(2026, 6, 30)                 # the window is 90 days: the cohort is taken at the end of 2026-04-01
SAMPLE_D = date(2026, 10, 31)         # the sample's last day
TABLE_ORDER = ("accounts", "leads", "stage_events", "activities", "deals")
QUEUE_COLUMNS = ["lead_id", "name", "email", "company", "title", "owner", "funnel_stage", "lifecycle_stage",
                 "fit_score", "icp", "intent_score", "quadrant", "next_owner", "next_action", "next_action_due"]


# ------------------------------------------------------------------------ a store small enough to hand-compute

# Fit (default ICP "Mid-market software"): Software 35 + 51–1000 employees 30 + VP 25 + US 10 = 100;
# Retail, 10 employees, intern, BR: nothing matches = 0.
SOFTWARE_VP = ("Software", 200, "VP Sales", "US")
RETAIL_INTERN = ("Retail", 10, "Intern", "BR")
HAND_LEADS = [("A", *SOFTWARE_VP, datetime(2026, 1, 5), "lead"),
              ("B", *SOFTWARE_VP, datetime(2026, 1, 5), "lead"),
              ("C", *RETAIL_INTERN, datetime(2026, 1, 5), "lead"),
              ("E", *RETAIL_INTERN, datetime(2026, 5, 1), "lead"),      # created after the cohort day
              ("F", *SOFTWARE_VP, datetime(2026, 1, 5), "customer")]
HAND_ACTIVITIES = [
    ("a1", "A", "pricing_page_view", datetime(2026, 3, 20, 10)),  # intent stage; at 04-01: 20·½^(12/30) = 15.2
    ("a2", "A", "demo_request", datetime(2026, 6, 30, 10)),       # at D: 35 + 40·½^(0) + 20·½^(102/30) ≈ 76.9
    ("a3", "A", "meeting_booked", datetime(2026, 6, 30, 11)),
    ("b1", "B", "newsletter_signup", datetime(2026, 2, 1, 10)),   # ≈ 0.06 at D, 0.5 at 04-01
    ("c1", "C", "contact_form", datetime(2026, 6, 28, 10)),       # at D: 30·½^(2/30) + 20·½^(2/30) ≈ 47.7
    ("c2", "C", "pricing_page_view", datetime(2026, 6, 28, 10)),
]
HAND_DEALS = [("D1", "A", datetime(2026, 5, 10), None, None),                     # A: opportunity after 04-01
              ("D2", "F", datetime(2026, 1, 10), datetime(2026, 2, 1), True)]     # F: customer before 04-01


@pytest.fixture(scope="module")
def hand():
    con = memory_connection()
    con.executemany("INSERT INTO leads (lead_id, name, email, industry, employees, title, country, created_at, "
                    "lifecycle_stage) VALUES ($1, $1, lower($1) || '@x.test', $2, $3, $4, $5, $6, $7)",
                    [list(r) for r in HAND_LEADS])
    con.executemany("INSERT INTO activities (activity_id, lead_id, activity_type, occurred_at) VALUES ($1, $2, $3, $4)",
                    [list(r) for r in HAND_ACTIVITIES])
    con.executemany("INSERT INTO deals (deal_id, lead_id, created_at, closed_at, won) VALUES ($1, $2, $3, $4, $5)",
                    [list(r) for r in HAND_DEALS])
    yield con
    con.close()


def test_matrix_cells_given_expect(hand):
    cells = matrix_cells(hand, settings=SETTINGS, as_of=D, fit_threshold=60, intent_threshold=40)
    # At D: A high/high (76.9); B (0.06) and F (0) high fit, low intent; C low fit, high intent (47.7); E low/low.
    # At 04-01 (A, B, C, F existed): F was already a customer (left out); A (intent 15) and B were high fit, low
    # intent, and A then entered opportunity on 05-10; C was low/low and did not.
    expect = pl.DataFrame(
        [("high_fit_high_intent", 1, 0.2, 0, 0, None),
         ("high_fit_low_intent", 2, 0.4, 2, 1, 0.5),
         ("low_fit_high_intent", 1, 0.2, 0, 0, None),
         ("low_fit_low_intent", 1, 0.2, 1, 0, 0.0)],
        schema={"quadrant": pl.String, "leads": pl.Int64, "share": pl.Float64, "cohort": pl.Int64,
                "converted": pl.Int64, "rate": pl.Float64}, orient="row")
    assert cells.select(expect.columns).equals(expect)
    assert cells.get_column("label").to_list() == [QUADRANT_LABELS[q] for q in QUADRANTS]
    assert cells.get_column("action").to_list() == [
        "SDR: Route to sales now: reach out within one business day", "Marketing: Nurture with stage content",
        "SDR: Qualify carefully: confirm need, budget and fit", "Marketing: Newsletter only: limit effort"]
    lo, hi = cells.row(1, named=True)["rate_lo"], cells.row(1, named=True)["rate_hi"]
    assert lo == pytest.approx(0.0945, abs=1e-4) and hi == pytest.approx(0.9055, abs=1e-4)   # Wilson 1 of 2
    empty = cells.filter(pl.col("cohort") == 0)
    assert empty.select("rate", "rate_lo", "rate_hi").null_count().row(0) == (2, 2, 2)


def test_thresholds_move_the_hand_leads(hand):
    # intent 50: C (47.7) drops to low intent; fit 101 is unreachable (fit is capped at 100) — every lead is low fit
    cells = matrix_cells(hand, settings=SETTINGS, as_of=D, fit_threshold=60, intent_threshold=50)
    assert cells.get_column("leads").to_list() == [1, 2, 0, 2]
    cells = matrix_cells(hand, settings=SETTINGS, as_of=D, fit_threshold=101, intent_threshold=40)
    assert cells.get_column("leads").to_list() == [0, 0, 2, 3]
    assert cells.select("cohort", "converted").rows() == [(0, 0), (0, 0), (0, 0), (3, 1)]


def test_work_queues_of_the_hand_leads(hand):
    def queue(name: str) -> list[str]:
        rows = work_queue(hand, settings=SETTINGS, as_of=D, queue=name, fit_threshold=60, intent_threshold=40)
        assert rows.columns == QUEUE_COLUMNS
        return rows.get_column("lead_id").to_list()

    assert queue("SDR queue") == ["A"]
    assert queue("Nurture list") == ["B"]            # F is high fit, low intent but a customer
    assert queue("Qualify-carefully list") == ["C"]
    assert queue("Newsletter only") == ["E"]
    assert queue(REACTIVATION_QUEUE) == []


def test_before_any_lead_every_cell_is_empty(hand):
    cells = matrix_cells(hand, settings=SETTINGS, as_of=date(2025, 12, 31), fit_threshold=60, intent_threshold=40)
    assert cells.get_column("quadrant").to_list() == list(QUADRANTS)
    assert cells.select("leads", "cohort", "converted").sum().row(0) == (0, 0, 0)
    assert cells.select("share", "rate", "rate_lo", "rate_hi").null_count().row(0) == (4, 4, 4, 4)


def test_quadrant_action_and_thresholds():
    assert quadrant_action(SETTINGS, "high_fit_low_intent") == "Marketing: Nurture with stage content"
    assert quadrant_action(SETTINGS, "no such quadrant") == ""
    assert quadrant_action(SETTINGS, "high_fit_high_intent") == (
        "SDR: Route to sales now: reach out within one business day")
    assert quadrant_action(replace(SETTINGS, routing=replace(SETTINGS.routing, rules=())), "high_fit_high_intent") == ""
    tuned = with_thresholds(SETTINGS, fit=75, intent=12.5)
    assert (tuned.fit.high_threshold, tuned.intent.high_threshold) == (75, 12.5)
    assert (SETTINGS.fit.high_threshold, SETTINGS.intent.high_threshold) == (60, 40)     # not mutated
    assert replace(tuned, fit=SETTINGS.fit, intent=SETTINGS.intent) == SETTINGS
    assert tuned.fit.icps == SETTINGS.fit.icps and tuned.intent.weights == SETTINGS.intent.weights


# ------------------------------------------------------------------------------- properties on a generated sample


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    folder = tmp_path_factory.mktemp("matrix")
    paths = write_sample(folder / "files", leads=400)
    con = connect(folder / "matrix.duckdb")
    for table in TABLE_ORDER:
        write_import(con, prepare_import(paths[table], settings=SETTINGS))
    rebuild_identity(con, settings=SETTINGS)
    yield con
    con.close()


@pytest.fixture(scope="module")
def scores(sample):
    return lead_scores(sample, settings=SETTINGS, as_of=SAMPLE_D)


def check_cells(cells: pl.DataFrame, *, scored: int) -> None:
    assert cells.get_column("quadrant").to_list() == list(QUADRANTS)
    assert cells.get_column("leads").sum() == scored
    assert cells.get_column("share").sum() == pytest.approx(1.0)
    for row in cells.iter_rows(named=True):
        assert 0 <= row["converted"] <= row["cohort"]
        if row["cohort"] == 0:
            assert row["rate"] is None and row["rate_lo"] is None and row["rate_hi"] is None
        else:
            assert row["rate"] == pytest.approx(row["converted"] / row["cohort"])
            assert 0 <= row["rate_lo"] <= row["rate"] <= row["rate_hi"] <= 1


def test_sample_cells_add_up(sample, scores):
    cells = matrix_cells(sample, settings=SETTINGS, as_of=SAMPLE_D, fit_threshold=60, intent_threshold=40)
    assert scores.height == 400
    check_cells(cells, scored=scores.height)
    by_quadrant = dict(scores.group_by("quadrant").len().rows())
    assert cells.select("quadrant", "leads").rows() == [(q, by_quadrant.get(q, 0)) for q in QUADRANTS]
    assert cells.get_column("cohort").sum() > 0


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fits=st.lists(st.integers(0, 100), min_size=2, max_size=2, unique=True), intent=st.integers(0, 100))
def test_raising_the_fit_threshold_never_adds_high_fit_leads(sample, scores, fits, intent):
    low, high = sorted(fits)
    before = matrix_cells(sample, settings=SETTINGS, as_of=SAMPLE_D, fit_threshold=low, intent_threshold=intent)
    after = matrix_cells(sample, settings=SETTINGS, as_of=SAMPLE_D, fit_threshold=high, intent_threshold=intent)
    for cells in (before, after):
        check_cells(cells, scored=scores.height)
    leads_before, leads_after = before.get_column("leads").to_list(), after.get_column("leads").to_list()
    for i, quadrant in enumerate(QUADRANTS):
        if quadrant.startswith("high_fit"):
            assert leads_after[i] <= leads_before[i]
        else:
            assert leads_after[i] >= leads_before[i]
    # the intent side does not move with the fit threshold
    assert leads_before[0] + leads_before[2] == leads_after[0] + leads_after[2]


@pytest.mark.parametrize("queue", [*QUEUES, REACTIVATION_QUEUE])
def test_each_queue_holds_only_its_leads(sample, scores, queue):
    fit_at, intent_at = 55.0, 20.0
    rows = work_queue(sample, settings=SETTINGS, as_of=SAMPLE_D, queue=queue, fit_threshold=fit_at,
                      intent_threshold=intent_at)
    assert rows.columns == QUEUE_COLUMNS
    assert rows.get_column("lead_id").is_unique().all()
    assert rows.sort(["intent_score", "fit_score"], descending=True).equals(rows)    # most urgent first
    high_fit, high_intent = scores["fit_score"] >= fit_at, scores["intent_score"] >= intent_at
    if queue == REACTIVATION_QUEUE:
        wanted = scores.filter(pl.col("funnel_stage") == "reactivation")
        assert set(rows.get_column("funnel_stage")) <= {"reactivation"}
    else:
        quadrant = QUEUES[queue]
        fit_wanted, intent_wanted = quadrant.startswith("high_fit"), quadrant.endswith("high_intent")
        wanted = scores.filter((high_fit == fit_wanted) & (high_intent == intent_wanted)
                               & (pl.col("funnel_stage") != "customer"))
        assert set(rows.get_column("quadrant")) <= {quadrant}
        assert (rows["fit_score"] >= fit_at).all() == fit_wanted or rows.height == 0
        assert (rows["intent_score"] >= intent_at).all() == intent_wanted or rows.height == 0
        assert "customer" not in set(rows.get_column("funnel_stage"))
    assert sorted(rows.get_column("lead_id")) == sorted(wanted.get_column("lead_id"))
    assert rows.height > 0


def test_sdr_queue_and_cell_agree(sample, scores):
    cells = matrix_cells(sample, settings=SETTINGS, as_of=SAMPLE_D, fit_threshold=60, intent_threshold=40)
    sdr = work_queue(sample, settings=SETTINGS, as_of=SAMPLE_D, queue="SDR queue", fit_threshold=60,
                     intent_threshold=40)
    assert ((sdr["fit_score"] >= 60) & (sdr["intent_score"] >= 40)).all()
    customers = scores.filter((pl.col("quadrant") == "high_fit_high_intent") & (pl.col("funnel_stage") == "customer"))
    assert sdr.height + customers.height == cells.row(0, named=True)["leads"]


def test_an_empty_cohort_has_no_rate(sample):
    # the sample starts in November 2024: 90 days before mid-December nobody existed yet
    cells = matrix_cells(sample, settings=SETTINGS, as_of=date(2024, 12, 15), fit_threshold=60, intent_threshold=40)
    assert cells.get_column("leads").sum() > 0
    assert cells.get_column("cohort").to_list() == [0, 0, 0, 0]
    assert cells.get_column("rate").null_count() == 4


def test_the_scores_every_page_shares_are_the_matrix_lint_and_sample_scores_at_the_saved_thresholds(sample, scores):
    """The dashboard scores every lead once per D and hands the result to the matrix at the saved thresholds, the
    Routing page's check of the rules in force and the handoff review sample: each gives what it computes alone."""
    from polars.testing import assert_frame_equal

    from funnel.analyses.review_sample import review_sample
    from funnel.analyses.routing import edit_lint
    from funnel.config import routing_text_in_force

    saved = matrix_scores(sample, settings=SETTINGS, as_of=SAMPLE_D, fit_threshold=SETTINGS.fit.high_threshold,
                          intent_threshold=SETTINGS.intent.high_threshold)
    assert_frame_equal(saved, scores)
    in_force = routing_text_in_force("")
    alone = edit_lint(sample, settings=SETTINGS, routing_text=in_force, as_of=SAMPLE_D)
    shared = edit_lint(sample, settings=SETTINGS, routing_text=in_force, as_of=SAMPLE_D, scores=scores)
    assert alone.keys() == shared.keys()
    for name in alone:
        assert_frame_equal(shared[name], alone[name])
    period = (date(SAMPLE_D.year, 1, 1), SAMPLE_D)
    drawn = review_sample(sample, settings=SETTINGS, as_of=SAMPLE_D, start=period[0], end=period[1], scores=scores)
    assert drawn.height > 0 and drawn.get_column("next_owner").null_count() == 0
    assert_frame_equal(drawn, review_sample(sample, settings=SETTINGS, as_of=SAMPLE_D, start=period[0], end=period[1]))


@pytest.mark.parametrize("day", [SAMPLE_D, date(2026, 3, 31), date(2025, 6, 30)])
def test_the_scores_without_the_route_are_those_of_the_routed_scores(sample, day):
    """The cells' later conversion and the score check read each lead's scores at the validation cutoff without
    routing every lead: the same values as the routed scores' columns, for every lead at that day."""
    from polars.testing import assert_frame_equal

    from funnel.model.scoring import QUADRANT_SCHEMA, lead_quadrants

    routed = lead_scores(sample, settings=SETTINGS, as_of=day)
    assert_frame_equal(lead_quadrants(sample, settings=SETTINGS, as_of=day), routed.select(list(QUADRANT_SCHEMA)))
    tuned = matrix_quadrants(sample, settings=SETTINGS, as_of=day, fit_threshold=30, intent_threshold=10)
    assert_frame_equal(tuned, matrix_scores(sample, settings=SETTINGS, as_of=day, fit_threshold=30,
                                            intent_threshold=10).select(list(QUADRANT_SCHEMA)))
