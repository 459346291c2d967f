"""Tests for funnel.stats: hand-computed values first, then properties."""

from __future__ import annotations

import itertools
import math
import statistics
from fractions import Fraction

import polars as pl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from funnel.stats import (
    benjamini_hochberg,
    bh_adjusted,
    expected_counts,
    fisher_exact_p_value,
    kaplan_meier,
    kaplan_meier_of_risks,
    km_quantile,
    km_quantiles_frame,
    km_risk_table,
    normal_cdf,
    normal_quantile,
    quantile_column_name,
    rate,
    segment_vs_rest_p_value,
    small_sample,
    two_proportion_p_value,
    wilson_interval,
)

# --- normal distribution ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        (0.5, 0.0),
        (0.975, 1.959963984540054),
        (0.9, 1.2815515655446004),
        (0.001, -3.090232306167813),
        (0.025, -1.959963984540054),
    ],
)
def test_normal_quantile_known_values(p: float, expected: float) -> None:
    assert normal_quantile(p) == pytest.approx(expected, rel=1e-13, abs=1e-15)


def test_normal_quantile_endpoints_and_domain() -> None:
    assert normal_quantile(0.0) == -math.inf
    assert normal_quantile(1.0) == math.inf
    for bad in (-0.1, 1.1, math.nan):
        with pytest.raises(ValueError):
            normal_quantile(bad)


def test_normal_cdf_known_values() -> None:
    assert normal_cdf(0.0) == 0.5
    assert normal_cdf(1.959963984540054) == pytest.approx(0.975, rel=1e-14)
    assert normal_cdf(-8.0) == pytest.approx(6.22096057427178e-16, rel=1e-12)  # lower tail keeps precision


@given(st.floats(min_value=1e-300, max_value=1 - 1e-15))
def test_normal_quantile_matches_stdlib_and_inverts_cdf(p: float) -> None:
    x = normal_quantile(p)
    # statistics.NormalDist uses Wichura's AS241 (~1e-16): an independent reference.
    assert x == pytest.approx(statistics.NormalDist().inv_cdf(p), rel=1e-9, abs=1e-12)
    assert normal_cdf(x) == pytest.approx(p, rel=1e-9)


# --- rates and Wilson intervals -----------------------------------------------------------------


def test_rate_is_none_for_an_empty_denominator_never_zero() -> None:
    assert rate(0, 0) is None
    assert rate(0, 5) == 0.0
    assert rate(3, 4) == 0.75
    with pytest.raises(ValueError):
        rate(5, 4)
    with pytest.raises(ValueError):
        rate(-1, 4)


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [
        # z = 1.959964, z² = 3.841459.
        # 0/10: low = 0; high = z²/(n + z²) = 3.8415/13.8415 = 0.2775.
        (0, 10, 0.0, 0.2775),
        # 5/10: centre 0.5, half = z/(1 + z²/n)·sqrt(0.025 + z²/400) = 1.4109·0.1888 = 0.2634.
        (5, 10, 0.2366, 0.7634),
        # 10/10 mirrors 0/10.
        (10, 10, 0.7225, 1.0),
        # 81/263, the standard published example: (0.2553, 0.3662).
        (81, 263, 0.2553, 0.3662),
    ],
)
def test_wilson_interval_published_values(successes: int, trials: int, low: float, high: float) -> None:
    got_low, got_high = wilson_interval(successes, trials)
    assert got_low is not None and got_high is not None
    assert round(got_low, 4) == low
    assert round(got_high, 4) == high


def test_wilson_interval_empty_and_invalid() -> None:
    assert wilson_interval(0, 0) == (None, None)
    assert wilson_interval(0, 10)[0] == 0.0  # exact, not -1e-17
    assert wilson_interval(10, 10)[1] == 1.0
    with pytest.raises(ValueError):
        wilson_interval(11, 10)
    with pytest.raises(ValueError):
        wilson_interval(1, 10, confidence=1.0)


def test_wilson_interval_widens_with_confidence() -> None:
    low90, high90 = wilson_interval(81, 263, confidence=0.90)
    low99, high99 = wilson_interval(81, 263, confidence=0.99)
    low95, high95 = wilson_interval(81, 263)
    assert low99 < low95 < low90 and high90 < high95 < high99  # type: ignore[operator]


@given(st.integers(min_value=1, max_value=10**7).flatmap(
    lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n))),
    st.sampled_from([0.8, 0.9, 0.95, 0.99, 0.999]))
def test_wilson_interval_contains_the_rate_and_lies_in_unit_interval(
    counts: tuple[int, int], confidence: float
) -> None:
    successes, trials = counts
    low, high = wilson_interval(successes, trials, confidence=confidence)
    assert low is not None and high is not None
    assert 0.0 <= low <= successes / trials <= high <= 1.0
    # Symmetry: the interval of the failures is the mirror image.
    mirror_low, mirror_high = wilson_interval(trials - successes, trials, confidence=confidence)
    assert low == pytest.approx(1.0 - mirror_high, abs=1e-12)  # type: ignore[operator]
    assert high == pytest.approx(1.0 - mirror_low, abs=1e-12)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("trials", "successes", "expected"),
    [
        (0, 0, True),
        (29, 10, True),  # n < 30
        (100, 4, False),  # a rare event on 100 leads: the count is enough (the exact test judges the rate)
        (100, 96, False),
        (2296, 1, False),  # never "small sample" at 2,296 leads
        (100, 5, False),
        (30, 15, False),
        (100, 50, False),
    ],
)
def test_small_sample(trials: int, successes: int, expected: bool) -> None:
    assert small_sample(trials, successes) is expected


def test_small_sample_threshold_is_an_option() -> None:
    assert small_sample(50, 25, min_trials=100) is True


# --- comparisons --------------------------------------------------------------------------------


def test_two_proportion_p_value_hand_computed() -> None:
    # 30/100 vs 20/100: pooled p = 0.25, se = sqrt(0.25·0.75·(1/100 + 1/100)) = 0.0612372,
    # z = 0.10/0.0612372 = 1.632993, two-sided p = 2·(1 − Φ(1.632993)) = 0.102470.
    assert two_proportion_p_value(30, 100, 20, 100) == pytest.approx(0.102470, abs=1e-6)
    assert two_proportion_p_value(20, 100, 30, 100) == two_proportion_p_value(30, 100, 20, 100)
    assert two_proportion_p_value(10, 100, 10, 100) == pytest.approx(1.0)


def test_two_proportion_p_value_undefined_cases() -> None:
    assert two_proportion_p_value(0, 0, 5, 10) is None
    assert two_proportion_p_value(5, 10, 0, 0) is None
    assert two_proportion_p_value(0, 10, 0, 20) is None  # pooled rate 0: no variance
    assert two_proportion_p_value(10, 10, 20, 20) is None  # pooled rate 1


def test_segment_vs_rest_compares_with_the_rest_not_the_total() -> None:
    # Segment 30/100 inside a total of 50/200: the rest is 20/100, so this is the test above.
    assert segment_vs_rest_p_value(30, 100, 50, 200) == pytest.approx(0.102470, abs=1e-6)
    # Against the total (which contains the segment) the gap looks smaller: larger p-value.
    assert two_proportion_p_value(30, 100, 50, 200) > segment_vs_rest_p_value(30, 100, 50, 200)  # type: ignore[operator]
    assert segment_vs_rest_p_value(30, 100, 30, 100) is None  # the segment is everyone
    with pytest.raises(ValueError):
        segment_vs_rest_p_value(30, 100, 20, 200)  # more successes than the total
    with pytest.raises(ValueError):
        segment_vs_rest_p_value(30, 100, 150, 120)  # the rest would be 120/20


# --- Benjamini–Hochberg -------------------------------------------------------------------------


def test_benjamini_hochberg_hand_worked_example() -> None:
    # m = 5, alpha = 0.05, thresholds k·alpha/m = 0.01, 0.02, 0.03, 0.04, 0.05.
    # sorted p: 0.005 ≤ 0.01 ✓, 0.01 ≤ 0.02 ✓, 0.03 ≤ 0.03 ✓, 0.04 ≤ 0.04 ✓, 0.20 > 0.05 ✗
    # → the four smallest are discoveries.
    p = [0.01, 0.04, 0.03, 0.005, 0.20]
    assert benjamini_hochberg(p) == [True, True, True, True, False]
    # q = min over j ≥ k of p_(j)·m/j: 0.005·5/1 = 0.025, 0.01·5/2 = 0.025, 0.03·5/3 = 0.05,
    # 0.04·5/4 = 0.05, 0.20·5/5 = 0.20.
    assert bh_adjusted(p) == pytest.approx([0.025, 0.05, 0.05, 0.025, 0.20])


def test_benjamini_hochberg_is_step_up_and_keeps_none() -> None:
    # m = 3 (None does not count): thresholds 0.0167, 0.0333, 0.05.
    # p_(1) = 0.02 > 0.0167 fails on its own, but p_(2) = 0.025 ≤ 0.0333 passes, so both are
    # discoveries (step-up). q_(2) = 0.025·3/2 = 0.0375, q_(1) = min(0.02·3, 0.0375) = 0.0375.
    p = [0.02, None, 0.025, 0.9]
    assert benjamini_hochberg(p) == [True, None, True, False]
    assert bh_adjusted(p) == pytest.approx([0.0375, None, 0.0375, 0.9])
    assert benjamini_hochberg([]) == []
    assert benjamini_hochberg([None, None]) == [None, None]
    assert bh_adjusted([None]) == [None]
    assert benjamini_hochberg(p, alpha=0.01) == [False, None, False, False]
    with pytest.raises(ValueError):
        benjamini_hochberg([0.5, 1.5])
    with pytest.raises(ValueError):
        bh_adjusted([math.nan])


p_value_lists = st.lists(
    st.one_of(st.none(), st.floats(min_value=0.0, max_value=1.0), st.sampled_from([0.0, 0.01, 0.05, 1.0])),
    max_size=40,
)


@given(p_value_lists, st.sampled_from([0.01, 0.05, 0.1, 0.25]))
def test_benjamini_hochberg_flags_are_monotone_in_p(p_values: list[float | None], alpha: float) -> None:
    flags = benjamini_hochberg(p_values, alpha=alpha)
    assert [f is None for f in flags] == [p is None for p in p_values]
    known = [(p, f) for p, f in zip(p_values, flags, strict=True) if p is not None]
    for p_i, f_i in known:
        for p_j, f_j in known:
            if p_i <= p_j and f_j:
                assert f_i, (p_i, p_j)


@given(p_value_lists, st.sampled_from([0.01, 0.05, 0.1]))
def test_bh_adjusted_is_monotone_bounded_and_agrees_with_flags(
    p_values: list[float | None], alpha: float
) -> None:
    q_values = bh_adjusted(p_values)
    flags = benjamini_hochberg(p_values, alpha=alpha)
    pairs = [(p, q, f) for p, q, f in zip(p_values, q_values, flags, strict=True) if p is not None]
    for p, q, f in pairs:
        assert q is not None and p <= q <= 1.0
        assume(abs(q - alpha) > 1e-12)  # at the boundary the two comparisons may round apart
        assert f == (q <= alpha)
    for p_i, q_i, _ in pairs:
        for p_j, q_j, _ in pairs:
            if p_i <= p_j:
                assert q_i <= q_j  # type: ignore[operator]


# --- Kaplan–Meier -------------------------------------------------------------------------------

# Freireich et al. (1963) 6-MP arm, the textbook example (Kleinbaum & Klein, "Survival Analysis",
# ch. 2): weeks in remission for 21 patients, + = censored.
#   6 6 6 6+ 7 9+ 10 10+ 11+ 13 16 17+ 19+ 20+ 22 23 25+ 32+ 32+ 34+ 35+
# By hand (events before censorings at a tie; at risk = duration ≥ t):
#   t=6 : 21 at risk, 3 events → S = 18/21                 = 0.8571
#   t=7 : 17 at risk, 1 event  → S = 0.8571 · 16/17        = 0.8067
#   t=10: 15 at risk, 1 event  → S = 0.8067 · 14/15        = 0.7529
#   t=13: 12 at risk, 1 event  → S = 0.7529 · 11/12        = 0.6902
#   t=16: 11 at risk, 1 event  → S = 0.6902 · 10/11        = 0.6275
#   t=22:  7 at risk, 1 event  → S = 0.6275 · 6/7          = 0.5378
#   t=23:  6 at risk, 1 event  → S = 0.5378 · 5/6          = 0.4482
# Median: the first t with 1 − S ≥ 0.5 is 23 (1 − 0.4482 = 0.5518; at 22 it is only 0.4622).
# The curve ends at 0.4482, so 1 − S never reaches 0.8: p80 is unknown (None).
SIX_MP = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
SIX_MP_EVENT = [True, True, True, False, True, False, True, False, False, True, True, False,
                False, False, True, True, False, False, False, False, False]


def test_kaplan_meier_textbook_example() -> None:
    table = kaplan_meier(SIX_MP, SIX_MP_EVENT)
    assert table.columns == ["time", "at_risk", "events", "censored", "survival"]
    events = table.filter(pl.col("events") > 0)
    assert events["time"].to_list() == [6, 7, 10, 13, 16, 22, 23]
    assert events["at_risk"].to_list() == [21, 17, 15, 12, 11, 7, 6]
    assert events["events"].to_list() == [3, 1, 1, 1, 1, 1, 1]
    assert [round(s, 4) for s in events["survival"]] == [0.8571, 0.8067, 0.7529, 0.6902, 0.6275, 0.5378, 0.4482]
    # Censor-only times are listed too (so events + censored add up to n), survival unchanged.
    assert table["events"].sum() + table["censored"].sum() == len(SIX_MP)
    assert table.filter(pl.col("time") == 9).row(0) == (9.0, 16, 0, 1, pytest.approx(0.806723, abs=1e-6))
    assert table.filter(pl.col("time") == 6)["censored"].item() == 1


def test_km_quantile_textbook_example() -> None:
    assert km_quantile(SIX_MP, SIX_MP_EVENT, 0.5) == 23
    assert km_quantile(SIX_MP, SIX_MP_EVENT, 0.1) == 6  # 1 − 18/21 = 0.143 ≥ 0.1
    assert km_quantile(SIX_MP, SIX_MP_EVENT, 0.8) is None  # curve stays at 0.448 > 1 − 0.8


def test_km_quantile_none_when_too_many_still_open() -> None:
    assert km_quantile([5, 8, 13], [False, False, False], 0.5) is None
    assert km_quantile([5, 8, 13, 20], [True, False, False, False], 0.5) is None  # S = 0.75
    assert km_quantile([], [], 0.5) is None
    assert kaplan_meier([], []).height == 0


def test_kaplan_meier_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        kaplan_meier([1, 2], [True])
    with pytest.raises(ValueError):
        kaplan_meier([-1], [True])
    with pytest.raises(ValueError):
        kaplan_meier([math.nan], [True])
    with pytest.raises(ValueError):
        km_quantile([1], [True], 0.0)


def _inverted_cdf_quantile(values: list[float], q: float) -> float:
    """The plain empirical quantile, "lower" side: the smallest x with #{v ≤ x}/n ≥ q.

    This is numpy's "inverted_cdf" (Hyndman–Fan type 1), the uncensored limit of the KM
    definition. polars' `quantile(q, "lower")` is a different rule (index floor(q·(n−1))).
    q is taken as the decimal it is written as, so 0.1·10 is exactly 1.
    """
    ordered = sorted(values)
    k = math.ceil(Fraction(repr(q)) * len(ordered))
    return ordered[max(k, 1) - 1]


QUANTILES = [0.1, 0.25, 0.3, 1 / 3, 0.5, 0.7, 0.75, 0.8, 0.9, 0.95, 0.99, 1.0]


@given(st.lists(st.integers(min_value=0, max_value=60), min_size=1, max_size=80), st.sampled_from(QUANTILES))
def test_km_without_censoring_is_the_empirical_quantile(durations: list[int], q: float) -> None:
    assert km_quantile(durations, [True] * len(durations), q) == _inverted_cdf_quantile(durations, q)


def test_km_without_censoring_examples() -> None:
    ten = list(range(1, 11))
    assert km_quantile(ten, [True] * 10, 0.5) == 5
    assert km_quantile(ten, [True] * 10, 0.55) == 6  # polars' "lower" would say 5 here
    assert km_quantile(ten, [True] * 10, 0.7) == 7
    assert km_quantile(ten, [True] * 10, 1.0) == 10


@given(
    st.lists(
        st.tuples(st.floats(min_value=0, max_value=1000, allow_nan=False), st.booleans()),
        max_size=60,
    )
)
def test_kaplan_meier_survival_is_non_increasing_and_in_unit_interval(rows: list[tuple[float, bool]]) -> None:
    durations = [d for d, _ in rows]
    observed = [o for _, o in rows]
    table = kaplan_meier(durations, observed)
    survival = table["survival"].to_list()
    assert all(0.0 <= s <= 1.0 for s in survival)
    assert all(later <= earlier for earlier, later in itertools.pairwise(survival))
    assert table["time"].is_sorted() and table["time"].n_unique() == table.height
    assert table["events"].sum() + table["censored"].sum() == len(rows)
    if rows:
        assert table["at_risk"][0] == len(rows)


# --- vectorised Kaplan–Meier quantiles ----------------------------------------------------------


def test_km_quantiles_frame_textbook_and_names() -> None:
    frame = pl.DataFrame({"days": SIX_MP, "done": SIX_MP_EVENT, "arm": ["6-MP"] * len(SIX_MP)})
    result = km_quantiles_frame(frame, duration="days", observed="done", by=["arm"])
    assert result.columns == ["arm", "p50", "p80", "p90", "n", "events", "censored"]
    assert result.row(0) == ("6-MP", 23, None, None, 21, 9, 12)
    overall = km_quantiles_frame(frame, duration="days", observed="done", by=None, quantiles=(0.25, 0.975))
    assert overall.columns == ["p25", "p97.5", "n", "events", "censored"]
    # 1 − S(10) = 0.2471 < 0.25, 1 − S(13) = 0.3098 ≥ 0.25 → p25 = 13; 1 − S never reaches 0.975.
    assert overall.row(0) == (13, None, 21, 9, 12)


def test_km_quantiles_frame_matches_scalar_on_the_example() -> None:
    frame = pl.DataFrame({"days": SIX_MP, "done": SIX_MP_EVENT})
    result = km_quantiles_frame(frame, duration="days", observed="done", by=None, quantiles=(0.25,))
    assert result["p25"].item() == km_quantile(SIX_MP, SIX_MP_EVENT, 0.25) == 13


def test_quantile_column_name() -> None:
    assert [quantile_column_name(q) for q in (0.5, 0.8, 0.9, 0.975, 0.07)] == ["p50", "p80", "p90", "p97.5", "p7"]


def test_km_quantiles_frame_rejects_unknown_and_negative_durations() -> None:
    frame = pl.DataFrame({"d": [1, None], "o": [True, False]})
    with pytest.raises(ValueError):
        km_quantiles_frame(frame, duration="d", observed="o", by=None)
    with pytest.raises(ValueError):
        km_quantiles_frame(pl.DataFrame({"d": [1, -2], "o": [True, False]}), duration="d", observed="o", by=None)
    with pytest.raises(ValueError):
        km_quantiles_frame(pl.DataFrame({"d": [1], "o": [None]}, schema={"d": pl.Int64, "o": pl.Boolean}),
                           duration="d", observed="o", by=None)
    with pytest.raises(TypeError):
        km_quantiles_frame(pl.DataFrame({"d": ["1"], "o": [True]}), duration="d", observed="o", by=None)
    with pytest.raises(ValueError):
        km_quantiles_frame(pl.DataFrame({"d": [1], "o": [True]}), duration="d", observed="o", by=None,
                           quantiles=(0.5, 0.5))


def test_km_quantiles_frame_takes_column_names_literally() -> None:
    # "*" and "^d.*$" would be patterns for pl.col; "_time" is a name the implementation uses inside.
    frame = pl.DataFrame({"*": ["a", "a", "b"], "^d.*$": [1, 2, 3], "_time": [True, True, False]})
    result = km_quantiles_frame(frame, duration="^d.*$", observed="_time", by=["*"], quantiles=(0.5,))
    assert result.rows() == [("a", 1, 2, 2, 0), ("b", None, 1, 0, 1)]
    with pytest.raises(ValueError):
        km_quantiles_frame(frame.rename({"*": "n"}), duration="^d.*$", observed="_time", by=["n"])


def test_km_quantiles_frame_empty_input() -> None:
    frame = pl.DataFrame({"d": [], "o": [], "g": []}, schema={"d": pl.Int64, "o": pl.Boolean, "g": pl.String})
    assert km_quantiles_frame(frame, duration="d", observed="o", by=["g"]).height == 0


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", None]),
            st.integers(min_value=0, max_value=3),
            st.integers(min_value=0, max_value=40),
            st.booleans(),
        ),
        min_size=1,
        max_size=120,
    ),
    st.lists(st.sampled_from(QUANTILES), min_size=1, max_size=3, unique=True),
)
def test_km_quantiles_frame_equals_scalar_per_group(
    rows: list[tuple[str | None, int, int, bool]], quantiles: list[float]
) -> None:
    frame = pl.DataFrame(rows, schema={"source": pl.String, "band": pl.Int64, "days": pl.Int64, "done": pl.Boolean},
                         orient="row")
    result = km_quantiles_frame(frame, duration="days", observed="done", by=["source", "band"], quantiles=quantiles)
    groups: dict[tuple[str | None, int], list[tuple[int, bool]]] = {}
    for source, band, days, done in rows:
        groups.setdefault((source, band), []).append((days, done))
    assert result.height == len(groups)
    for record in result.iter_rows(named=True):
        members = groups[(record["source"], record["band"])]
        durations = [d for d, _ in members]
        observed = [o for _, o in members]
        for q in quantiles:
            assert record[quantile_column_name(q)] == km_quantile(durations, observed, q)
        assert record["n"] == len(members)
        assert record["events"] == sum(observed)
        assert record["censored"] == len(members) - sum(observed)


def test_km_quantiles_frame_covers_a_million_rows_in_groups() -> None:
    """Every row lands in one of the groups (its speed is measured in benchmarks/, never asserted here)."""
    n = 1_000_000
    index = pl.int_range(n)
    frame = pl.select(
        source=(index.hash(1) % 1000),
        days=(index.hash(2) % 365).cast(pl.Int64),
        done=(index.hash(3) % 3) > 0,
    )
    km_quantiles_frame(frame.head(1000), duration="days", observed="done", by=["source"])  # warm up
    result = km_quantiles_frame(frame, duration="days", observed="done", by=["source"])
    assert result.height == 1000 and result["n"].sum() == n


# --- Fisher's exact test ------------------------------------------------------------------------


def test_fisher_exact_hand_computed() -> None:
    # Tea tasting 3/4 vs 1/4: P(k) = C(4,k)·C(4,4−k)/C(8,4) = 1, 16, 36, 16, 1 (/70); the tables no
    # more likely than k=3 (16/70) are k = 0, 1, 3, 4 → (1 + 16 + 16 + 1)/70.
    assert fisher_exact_p_value(3, 4, 1, 4) == pytest.approx(34 / 70, rel=1e-12)
    # 1/10 vs 11/14: margins 12 of 24; P(k) = C(10,k)·C(14,12−k)/C(24,12), C(24,12) = 2,704,156.
    # k = 0, 1 (observed), 9, 10 give 91, 3,640, 3,640, 91: no more likely than observed → 7,462/2,704,156.
    assert fisher_exact_p_value(1, 10, 11, 14) == pytest.approx(7462 / 2704156, rel=1e-9)
    # 2/2 vs 0/2: P(k=2) = C(2,2)·C(2,0)/C(4,2) = 1/6 and k=0 the same → 2/6.
    assert fisher_exact_p_value(2, 2, 0, 2) == pytest.approx(1 / 3, rel=1e-12)
    assert fisher_exact_p_value(1, 2, 1, 2) == pytest.approx(1.0)


def test_fisher_exact_is_symmetric_and_undefined_without_variation() -> None:
    assert fisher_exact_p_value(3, 4, 1, 4) == pytest.approx(fisher_exact_p_value(1, 4, 3, 4))
    assert fisher_exact_p_value(0, 0, 1, 4) is None
    assert fisher_exact_p_value(0, 5, 0, 7) is None
    assert fisher_exact_p_value(5, 5, 7, 7) is None


def test_segment_vs_rest_uses_fisher_when_an_expected_count_is_under_5() -> None:
    # A 3-lead segment that all converted, against 10 of 100: expected successes in the segment
    # 3·13/103 < 5 → Fisher's exact test, not the z-test (which would call it p ≈ 0.00003).
    assert min(expected_counts(3, 3, 10, 100)) < 5
    assert segment_vs_rest_p_value(3, 3, 13, 103) == pytest.approx(fisher_exact_p_value(3, 3, 10, 100))
    assert segment_vs_rest_p_value(3, 3, 13, 103) > 1e-3
    # Large counts everywhere → the z-test, as before.
    assert segment_vs_rest_p_value(30, 100, 50, 200) == pytest.approx(0.102470, abs=1e-6)


def test_kaplan_meier_of_a_risk_table_given_expect():
    """Days 2 (event), 2 (censored), 5 (event), 5 (event) in two groups: at 2, 4 at risk, one event → 0.75; at 5,
    2 at risk, two events → 0."""
    frame = pl.DataFrame({"days": [2, 2, 5, 5], "done": [True, False, True, True], "g": [0, 1, 1, 0]})
    table = kaplan_meier_of_risks(km_risk_table(frame, duration="days", observed="done", by=["g"]))
    assert table.rows() == [(2.0, 4, 1, 1, 0.75), (5.0, 2, 2, 0, 0.0)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.booleans(), st.integers(0, 3)), max_size=60))
def test_kaplan_meier_of_risk_tables_summed_over_groups_is_kaplan_meier(rows):
    """The risk tables of parts of the rows, summed, give the very table (the same floats) `kaplan_meier` gives
    over all of them: the curve can be finished where the tasks' counts come back."""
    frame = pl.DataFrame(rows, schema={"days": pl.Int64, "done": pl.Boolean, "g": pl.Int32}, orient="row")
    risks = km_risk_table(frame, duration="days", observed="done", by=["g"])
    expected = kaplan_meier([r[0] for r in rows], [r[1] for r in rows])
    assert kaplan_meier_of_risks(risks).equals(expected)
