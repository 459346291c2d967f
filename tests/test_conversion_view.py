"""Conversion against the previous period: given/expect rows and properties of `period_comparison`."""

from __future__ import annotations

from itertools import pairwise

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from funnel.display.conversion import period_comparison, readable_steps

LADDER = ["subscriber", "lead", "mql", "sql", "opportunity", "customer"]
STAGE = pl.Enum(LADDER)
STEPS = list(pairwise(LADDER))


def conversion(*rows: tuple) -> pl.DataFrame:
    """A total `stage_conversion`-shaped table: (from_stage, to_stage, entered, advanced, rate)."""
    frame = pl.DataFrame(list(rows), orient="row", schema={
        "from_stage": STAGE, "to_stage": STAGE, "entered": pl.Int64, "advanced": pl.Int64, "rate": pl.Float64})
    return frame.with_columns(pl.lit(0, dtype=pl.Int64).alias("open"), (pl.col("rate") * 0.9).alias("rate_lo"))


def test_period_comparison_given_expect():
    now = conversion(("subscriber", "lead", 100, 30, 0.30), ("lead", "mql", 200, 120, 0.6),
                     ("mql", "sql", 50, 0, None), ("sql", "opportunity", 20, 15, 0.75),
                     ("opportunity", "customer", 10, 4, 0.4))
    before = conversion(("subscriber", "lead", 80, 20, 0.25), ("lead", "mql", 150, 105, 0.7),
                        ("mql", "sql", 40, 22, 0.55), ("sql", "opportunity", 0, 0, None))
    compared = period_comparison(now, before)
    assert compared.columns == ["from_stage", "to_stage", "entered", "rate", "entered_before", "rate_before",
                                "change_pts"]
    assert compared.with_columns(pl.col("from_stage", "to_stage").cast(pl.String)).rows() == [
        ("subscriber", "lead", 100, 0.30, 80, 0.25, 5.0),
        ("lead", "mql", 200, 0.6, 150, 0.7, -10.0),
        ("mql", "sql", 50, None, 40, 0.55, None),           # no rate now: no change
        ("sql", "opportunity", 20, 0.75, 0, None, None),    # no rate before: no change
        ("opportunity", "customer", 10, 0.4, None, None, None),  # step absent before
    ]


def test_change_is_rounded_to_a_tenth_of_a_point():
    now = conversion(("lead", "mql", 96, 55, 55 / 96))
    before = conversion(("lead", "mql", 100, 50, 0.5))
    assert period_comparison(now, before).get_column("change_pts").to_list() == [7.3]  # 57.29 − 50 pts


def test_the_order_of_the_current_period_is_kept():
    now = conversion(*[(a, b, 10, 5, 0.5) for a, b in reversed(STEPS)])
    before = conversion(*[(a, b, 10, 4, 0.4) for a, b in STEPS])
    compared = period_comparison(now, before)
    assert compared.get_column("from_stage").cast(pl.String).to_list() == [a for a, _ in reversed(STEPS)]
    assert compared.get_column("change_pts").to_list() == [10.0] * len(STEPS)


def test_an_empty_earlier_period_gives_null_changes():
    now = conversion(("lead", "mql", 10, 5, 0.5))
    compared = period_comparison(now, conversion())
    assert compared.row(0) == ("lead", "mql", 10, 0.5, None, None, None)


rate = st.none() | st.floats(min_value=0, max_value=1, allow_nan=False)


@given(st.lists(st.tuples(rate, rate, st.booleans()), min_size=len(STEPS), max_size=len(STEPS)))
def test_change_is_the_difference_in_points_or_null(cases):
    now = conversion(*[(a, b, 10, 1, r) for (a, b), (r, _, _) in zip(STEPS, cases)])
    before = conversion(*[(a, b, 20, 2, r) for (a, b), (_, r, keep) in zip(STEPS, cases) if keep])
    compared = period_comparison(now, before)
    assert compared.height == len(STEPS)
    for (r_now, r_before, keep), change in zip(cases, compared.get_column("change_pts").to_list()):
        if r_now is None or r_before is None or not keep:
            assert change is None
        else:
            assert abs(change - (r_now - r_before) * 100) <= 0.05 + 1e-9
            assert -100 <= change <= 100


def test_readable_steps_keep_the_policy_count_and_one_interval_text():
    steps = pl.DataFrame({"from_stage": ["lead", "mql"], "to_stage": ["mql", "sql"], "entered": [10, 0],
                          "excluded": [0, 0], "implied": [2, 0], "rate": [0.4567, None], "rate_lo": [0.2, None],
                          "rate_hi": [0.71234, None]})
    implicit = readable_steps(steps, implicit=True)
    assert implicit.columns == ["from_stage", "to_stage", "entered", "implied", "rate", "rate_interval"]
    assert implicit.get_column("rate_interval").to_list() == ["20.0–71.2%", "—"]
    assert implicit.get_column("rate").to_list() == steps.get_column("rate").to_list()  # rows stay in place
    strict = readable_steps(steps, implicit=False)
    assert strict.columns == ["from_stage", "to_stage", "entered", "excluded", "rate", "rate_interval"]
