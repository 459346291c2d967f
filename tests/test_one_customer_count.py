"""One count of customers everywhere: a lead that became a customer stays one until it becomes a former customer,
so the distribution's customers and the leads that reached customer agree (Olist: 842 and 842, not 841)."""

from __future__ import annotations

from datetime import date

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funnel.analyses.distribution import stage_distribution_of
from funnel.analyses.inputs import analysis_inputs
from funnel.analyses.segments import lead_deals, segment_performance_of
from funnel.filters import Filters
from funnel.model.history import stage_history
from tests.test_metrics_support import SETTINGS, events, store

AS_OF = date(2026, 3, 31)


def lifecycle_stages(con) -> list[tuple[str, int]]:
    history = stage_history(con, ladder="lifecycle", settings=SETTINGS, as_of=AS_OF)
    return [(r["stage"], r["entered_at"].day) for r in history.iter_rows(named=True)]


def customers(con) -> tuple[int, int]:
    """(leads in customer at D by the distribution, leads that reached customer by D)."""
    inputs = analysis_inputs(con, Filters(as_of=AS_OF), settings=SETTINGS)
    distribution = stage_distribution_of(inputs)
    now = distribution.filter(pl.col("stage") == "customer").get_column("leads").sum()
    reached = segment_performance_of(inputs, lead_deals(con, as_of=AS_OF)).get_column("reached_customer")[0]
    return now, reached


def test_an_entry_below_customer_after_the_win_does_not_move_the_customer():
    # Olist's quirk: won on 6 March, first contact (an MQL entry) on 8 March.
    con = store(leads=[{"lead_id": "X", "created_at": "2026-03-08"}],
                stage_events=events("X", ("customer", "2026-03-06 19:38"), ("mql", "2026-03-08")))
    assert lifecycle_stages(con) == [("customer", 6)]
    assert customers(con) == (1, 1)


def test_a_former_customer_can_come_back_down_the_ladder():
    con = store(leads=[{"lead_id": "X", "created_at": "2026-01-01"}],
                stage_events=events("X", ("mql", "2026-01-01"), ("customer", "2026-01-10"),
                                    ("former_customer", "2026-02-01"), ("mql", "2026-03-01")))
    assert lifecycle_stages(con) == [("mql", 1), ("customer", 10), ("former_customer", 1), ("mql", 1)]
    assert customers(con) == (0, 1)


def test_moves_below_customer_before_the_win_are_kept():
    con = store(leads=[{"lead_id": "X", "created_at": "2026-01-01"}],
                stage_events=events("X", ("sql", "2026-01-02"), ("mql", "2026-01-05"), ("customer", "2026-01-20"),
                                    ("lead", "2026-02-01"), ("customer", "2026-02-03")))
    assert lifecycle_stages(con) == [("sql", 2), ("mql", 5), ("customer", 20)]


STAGES = ("lead", "mql", "sql", "opportunity", "customer")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.tuples(st.integers(1, 28), st.sampled_from(STAGES)), min_size=1, max_size=5),
                min_size=1, max_size=6))
def test_without_former_customers_the_customers_now_are_the_customers_reached(histories):
    rows = []
    for i, entries in enumerate(histories):
        rows += events(f"L{i}", *((stage, f"2026-02-{day:02d}") for day, stage in entries))
    unique = {(e["lead_id"], e["stage"], e["entered_at"]): e for e in rows}
    con = store(leads=[{"lead_id": f"L{i}", "created_at": "2026-02-01"} for i in range(len(histories))],
                stage_events=list(unique.values()))
    now, reached = customers(con)
    assert now == reached == sum(any(stage == "customer" for _, stage in entries) for entries in histories)


# ------------------------------------------------------------------------------------ fit without firmographics


def test_fit_without_any_firmographic_is_said_to_be_uncomputable():
    from funnel.model.matrix import fit_data_note

    bare = store(leads=[{"lead_id": f"L{i}", "created_at": "2026-01-01", "source": "web"} for i in range(4)])
    note = fit_data_note(bare, settings=SETTINGS, as_of=AS_OF)
    assert note.startswith("Fit cannot be computed: none of the 4 leads")
    few = store(leads=[{"lead_id": "L0", "created_at": "2026-01-01", "industry": "Software"},
                       *({"lead_id": f"L{i}", "created_at": "2026-01-01"} for i in range(1, 4))])
    assert fit_data_note(few, settings=SETTINGS, as_of=AS_OF).startswith("Fit rests on few leads: only 1 of 4")
    half = store(leads=[{"lead_id": "L0", "created_at": "2026-01-01", "country": "US"},
                        {"lead_id": "L1", "created_at": "2026-01-01", "title": "VP Sales"},
                        *({"lead_id": f"L{i}", "created_at": "2026-01-01"} for i in range(2, 4))])
    assert fit_data_note(half, settings=SETTINGS, as_of=AS_OF) is None
