"""Honest statistics for funnel rates and durations, in plain Python and polars (no numpy/scipy).

Conventions:
- A rate with an empty denominator is None, never 0: "no data" is not "zero percent".
- Every rate is shown with a Wilson 95% interval and a small-sample flag.
- Comparisons of a segment with the overall rate compare the segment with *the rest* of the
  population (the overall rate contains the segment, so comparing with it understates the gap).
- Many segments compared at once are corrected with Benjamini–Hochberg (false discovery rate).
- Durations of still-open leads are censored: Kaplan–Meier estimates time-to-event quantiles
  without pretending the open leads converted, or dropping them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import polars as pl

__all__ = [
    "benjamini_hochberg",
    "bh_adjusted",
    "expected_counts",
    "fisher_exact_p_value",
    "kaplan_meier",
    "kaplan_meier_of_risks",
    "km_quantile",
    "km_quantiles_frame",
    "km_quantiles_of_risks",
    "km_risk_table",
    "normal_cdf",
    "normal_quantile",
    "quantile_column_name",
    "rate",
    "rate_or_null",
    "segment_vs_rest_p_value",
    "small_sample",
    "two_proportion_p_value",
    "wilson_interval",
    "with_rate",
]

# Survival products accumulate rounding error (9/10 · 8/9 · … is not exactly 0.5 in binary), so a
# quantile threshold is met when 1 − S(t) ≥ q − _KM_TOLERANCE. Both KM implementations use it.
_KM_TOLERANCE = 1e-10


# --- the normal distribution --------------------------------------------------------------------

def normal_cdf(x: float) -> float:
    """Φ(x), the standard normal cumulative distribution function."""
    # 0.5·erfc(−x/√2) equals 0.5·(1 + erf(x/√2)) but keeps full precision in the lower tail.
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


# Acklam's rational approximation (relative error < 1.15e-9), then one Halley step (full precision).
_A = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
      1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)
_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
      6.680131188771972e01, -1.328068155288572e01)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
      -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
_P_LOW = 0.02425


def normal_quantile(p: float) -> float:
    """Φ⁻¹(p), the standard normal quantile; −inf at 0 and +inf at 1."""
    if not 0.0 <= p <= 1.0 or math.isnan(p):
        raise ValueError(f"normal_quantile needs 0 ≤ p ≤ 1, got {p!r}")
    if p == 0.0:
        return -math.inf
    if p == 1.0:
        return math.inf
    if p < _P_LOW:
        q = math.sqrt(-2.0 * math.log(p))
        x = (((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / \
            ((((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0)
    elif p <= 1.0 - _P_LOW:
        q = p - 0.5
        r = q * q
        x = (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5]) * q / \
            (((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1.0)
    else:
        q = math.sqrt(-2.0 * math.log1p(-p))
        x = -(((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / \
            ((((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0)
    # One Halley refinement step against the exact CDF.
    if p < 0.5:
        e = normal_cdf(x) - p
    else:  # work with the upper tail so p close to 1 keeps its precision
        e = (1.0 - p) - 0.5 * math.erfc(x / math.sqrt(2.0))
    u = e * math.sqrt(2.0 * math.pi) * math.exp(x * x / 2.0)
    return x - u / (1.0 + x * u / 2.0)


# --- rates and intervals ------------------------------------------------------------------------

def _check_counts(successes: int, trials: int) -> None:
    if trials < 0 or successes < 0 or successes > trials:
        raise ValueError(f"need 0 ≤ successes ≤ trials, got {successes}/{trials}")


def rate(successes: int, trials: int) -> float | None:
    """successes / trials, or None when there are no trials."""
    _check_counts(successes, trials)
    return successes / trials if trials else None


def wilson_interval(
    successes: int, trials: int, *, confidence: float = 0.95
) -> tuple[float | None, float | None]:
    """The Wilson score interval (low, high) for a rate; (None, None) when there are no trials."""
    _check_counts(successes, trials)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")
    if trials == 0:
        return None, None
    z = normal_quantile(1.0 - (1.0 - confidence) / 2.0)
    n = float(trials)
    p = successes / n
    z2 = z * z
    denominator = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n))
    low = 0.0 if successes == 0 else max(0.0, min(p, centre - half))
    high = 1.0 if successes == trials else min(1.0, max(p, centre + half))
    return low, high


def small_sample(trials: int, successes: int, *, min_trials: int = 30) -> bool:
    """True when a rate rests on too few observations: fewer than min_trials. The flag is about the
    count behind the rate, never its share: a 2,296-lead segment is not a small sample however rare
    the event (whether a rare event differs beyond chance is the exact test's job, not this flag's)."""
    _check_counts(successes, trials)
    return trials < min_trials


def rate_or_null(successes: pl.Expr, trials: pl.Expr) -> pl.Expr:
    """successes / trials as a polars expression, null when there are no trials."""
    return pl.when(trials > 0).then(successes / trials).otherwise(None)


def with_rate(frame: pl.DataFrame, *, successes: str, trials: str, name: str = "rate",
              min_trials: int | None = None, flag: str = "small_sample") -> pl.DataFrame:
    """The one way a metric frame gets a rate: adds <name> = successes / trials (null when there are
    no trials), its Wilson 95% interval <name>_lo and <name>_hi, and, when `min_trials` is given,
    the small-sample flag column `flag` (see `small_sample`). Null counts count as 0."""
    rates: list[float | None] = []
    lows: list[float | None] = []
    highs: list[float | None] = []
    smalls: list[bool] = []
    for s, n in zip(frame.get_column(successes).to_list(), frame.get_column(trials).to_list(), strict=True):
        s, n = int(s or 0), int(n or 0)
        low, high = wilson_interval(s, n)
        rates.append(rate(s, n))
        lows.append(low)
        highs.append(high)
        if min_trials is not None:
            smalls.append(small_sample(n, s, min_trials=min_trials))
    columns = [pl.Series(name, rates, dtype=pl.Float64), pl.Series(f"{name}_lo", lows, dtype=pl.Float64),
               pl.Series(f"{name}_hi", highs, dtype=pl.Float64)]
    if min_trials is not None:
        columns.append(pl.Series(flag, smalls, dtype=pl.Boolean))
    return frame.with_columns(columns)


# --- comparisons --------------------------------------------------------------------------------

def two_proportion_p_value(s1: int, n1: int, s2: int, n2: int) -> float | None:
    """Two-sided p-value of the pooled two-proportion z-test; None when either group is empty or
    the pooled rate is 0 or 1 (no variance to test against)."""
    _check_counts(s1, n1)
    _check_counts(s2, n2)
    if n1 == 0 or n2 == 0:
        return None
    pooled = (s1 + s2) / (n1 + n2)
    variance = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)
    if variance <= 0.0:
        return None
    z = (s1 / n1 - s2 / n2) / math.sqrt(variance)
    return min(1.0, math.erfc(abs(z) / math.sqrt(2.0)))  # = 2·(1 − Φ(|z|)), exact in the tail


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_exact_p_value(s1: int, n1: int, s2: int, n2: int) -> float | None:
    """Two-sided p-value of Fisher's exact test on the 2×2 table (s1, n1−s1 / s2, n2−s2): the total
    hypergeometric probability of every table with the same margins that is no more likely than the
    observed one (the usual "sum of small p" definition, as R's fisher.test). None when either
    group is empty or nobody (or everybody) succeeded: there is nothing to test."""
    _check_counts(s1, n1)
    _check_counts(s2, n2)
    if n1 == 0 or n2 == 0:
        return None
    successes, total = s1 + s2, n1 + n2
    if successes in (0, total):
        return None
    low, high = max(0, successes - n2), min(successes, n1)
    denominator = _log_choose(total, successes)

    def log_p(k: int) -> float:
        return _log_choose(n1, k) + _log_choose(n2, successes - k) - denominator

    observed = log_p(s1)
    # Tables as likely as the observed one up to rounding count in full (relative tolerance 1e-7).
    cutoff = observed + math.log1p(1e-7)
    p = math.fsum(math.exp(lp) for lp in (log_p(k) for k in range(low, high + 1)) if lp <= cutoff)
    return min(1.0, p)


def expected_counts(seg_s: int, seg_n: int, rest_s: int, rest_n: int) -> tuple[float, float, float, float]:
    """The four expected cell counts of the segment-vs-rest 2×2 table under independence."""
    total = seg_n + rest_n
    successes = seg_s + rest_s
    if total == 0:
        return 0.0, 0.0, 0.0, 0.0
    failures = total - successes
    return (seg_n * successes / total, seg_n * failures / total,
            rest_n * successes / total, rest_n * failures / total)


def segment_vs_rest_p_value(seg_s: int, seg_n: int, total_s: int, total_n: int) -> float | None:
    """Two-sided p-value comparing a segment's rate with the rate of everyone outside it: Fisher's
    exact test wherever an expected count of the 2×2 table is under 5, else the pooled z-test."""
    _check_counts(seg_s, seg_n)
    _check_counts(total_s, total_n)
    rest_s, rest_n = total_s - seg_s, total_n - seg_n
    if rest_n < 0 or rest_s < 0 or rest_s > rest_n:
        raise ValueError(
            f"segment {seg_s}/{seg_n} is not contained in the total {total_s}/{total_n}"
        )
    if min(expected_counts(seg_s, seg_n, rest_s, rest_n)) < 5:
        return fisher_exact_p_value(seg_s, seg_n, rest_s, rest_n)
    return two_proportion_p_value(seg_s, seg_n, rest_s, rest_n)


def _ranked_p_values(p_values: Sequence[float | None]) -> list[tuple[int, float]]:
    ranked = []
    for index, p in enumerate(p_values):
        if p is None:
            continue
        if math.isnan(p) or not 0.0 <= p <= 1.0:
            raise ValueError(f"p-value at position {index} is not in [0, 1]: {p!r}")
        ranked.append((index, float(p)))
    ranked.sort(key=lambda pair: pair[1])
    return ranked


def benjamini_hochberg(
    p_values: Sequence[float | None], *, alpha: float = 0.05
) -> list[bool | None]:
    """Per p-value, whether it is significant under Benjamini–Hochberg at false discovery rate
    alpha (None stays None and does not count towards the number of tests)."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be strictly between 0 and 1, got {alpha!r}")
    ranked = _ranked_p_values(p_values)
    m = len(ranked)
    # Step-up: the largest rank k with p_(k) ≤ k·alpha/m; every p-value ranked 1..k is significant.
    cutoff = 0
    for k, (_, p) in enumerate(ranked, start=1):
        if p <= k * alpha / m:
            cutoff = k
    flags: list[bool | None] = [None] * len(p_values)
    for k, (index, _) in enumerate(ranked, start=1):
        flags[index] = k <= cutoff
    return flags


def bh_adjusted(p_values: Sequence[float | None]) -> list[float | None]:
    """Benjamini–Hochberg adjusted p-values (q-values), in input order; None stays None."""
    ranked = _ranked_p_values(p_values)
    m = len(ranked)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 1.0
    for k in range(m, 0, -1):  # from the largest p down: q_(k) = min_{j ≥ k} p_(j)·m/j
        index, p = ranked[k - 1]
        running = min(running, max(p, p * m / k))  # max(): p·m/m may round below p
        adjusted[index] = running
    return adjusted


# --- Kaplan–Meier -------------------------------------------------------------------------------

_KM_SCHEMA = {
    "time": pl.Float64,
    "at_risk": pl.Int64,
    "events": pl.Int64,
    "censored": pl.Int64,
    "survival": pl.Float64,
}


def _km_rows(
    durations: Sequence[float], observed: Sequence[bool]
) -> list[tuple[float, int, int, int, float]]:
    if len(durations) != len(observed):
        raise ValueError(
            f"durations and observed differ in length: {len(durations)} vs {len(observed)}"
        )
    counts: dict[float, list[int]] = {}
    for duration, event in zip(durations, observed, strict=True):
        if duration is None or event is None:
            raise ValueError("durations and observed must not contain None")
        time = float(duration)
        if math.isnan(time) or time < 0.0 or math.isinf(time):
            raise ValueError(f"durations must be finite and ≥ 0, got {duration!r}")
        tally = counts.setdefault(time, [0, 0])
        tally[0 if event else 1] += 1
    rows = []
    at_risk = len(durations)
    survival = 1.0
    for time in sorted(counts):
        events, censored = counts[time]
        # Events at t happen before censorings at t: censored leads were still at risk at t.
        survival *= 1.0 - events / at_risk
        rows.append((time, at_risk, events, censored, survival))
        at_risk -= events + censored
    return rows


def kaplan_meier(durations: Sequence[float], observed: Sequence[bool]) -> pl.DataFrame:
    """The Kaplan–Meier table: one row per distinct time (events and censorings), with columns
    time, at_risk, events, censored and survival S(t) just after t."""
    return pl.DataFrame(_km_rows(durations, observed), schema=_KM_SCHEMA, orient="row")


def kaplan_meier_of_risks(risks: pl.DataFrame) -> pl.DataFrame:
    """`kaplan_meier` from a risk table (`km_risk_table`, or the sum of several; every group summed into one
    curve): the same rows, the same floats."""
    steps = _km_steps(risks.lazy().select(pl.lit(0).alias("_all"), "_time", "_events", "_removed"), ["_all"])
    return steps.select(
        pl.col("_time").cast(pl.Float64).alias("time"), pl.col("_at_risk").cast(pl.Int64).alias("at_risk"),
        pl.col("_events").cast(pl.Int64).alias("events"),
        (pl.col("_removed") - pl.col("_events")).cast(pl.Int64).alias("censored"),
        pl.col("_survival").alias("survival")).collect()


def _km_steps(work: pl.LazyFrame, keys: list[str]) -> pl.LazyFrame:
    """A risk table (`_time`, `_events`, `_removed` per `keys`) summed per group and time, sorted, with each time's
    `_at_risk` (everyone whose duration is ≥ t: events come before censorings at a tie) and `_survival` S(t)."""
    return (
        work.group_by([*keys, "_time"])
        .agg(pl.col("_events").sum(), pl.col("_removed").sum())
        .sort([*keys, "_time"], nulls_last=True)
        .with_columns(pl.col("_removed").cum_sum(reverse=True).over(keys).alias("_at_risk"))
        .with_columns(
            (1.0 - pl.col("_events").cast(pl.Float64) / pl.col("_at_risk").cast(pl.Float64))
            .cum_prod()
            .over(keys)
            .alias("_survival")
        )
    )


def _check_quantile(q: float) -> None:
    if math.isnan(q) or not 0.0 < q <= 1.0:
        raise ValueError(f"quantile must be in (0, 1], got {q!r}")


def km_quantile(durations: Sequence[float], observed: Sequence[bool], q: float) -> float | None:
    """The smallest time t with 1 − S(t) ≥ q under Kaplan–Meier; None when the curve never gets
    there (too many leads still open)."""
    _check_quantile(q)
    for time, _, _, _, survival in _km_rows(durations, observed):
        if 1.0 - survival >= q - _KM_TOLERANCE:
            return time
    return None


def quantile_column_name(q: float) -> str:
    """The column name for a quantile: 0.5 → "p50", 0.9 → "p90", 0.975 → "p97.5"."""
    _check_quantile(q)
    return f"p{q * 100:g}"


def km_quantiles_frame(
    frame: pl.DataFrame,
    *,
    duration: str,
    observed: str,
    by: list[str] | None,
    quantiles: Sequence[float] = (0.5, 0.8, 0.9),
) -> pl.DataFrame:
    """One row per group (sorted by the group columns): the group keys, a Kaplan–Meier quantile
    column per q (e.g. p50, p80, p90; null when the curve never reaches q), n, events and
    censored."""
    keys = list(by or [])
    _check_outputs(keys, quantiles)
    for column in (duration, observed, *keys):
        if column not in frame.columns:
            raise ValueError(f"column {column!r} is not in the frame")
    # Internally named copies selected by position: group columns may be named like the risk table's own
    # columns (_time, _events, _removed) or like patterns ("*", "^a.*$").
    internal = [f"_key{i}" for i in range(len(keys))]
    work = frame.select(*[pl.nth(frame.get_column_index(k)).alias(n) for k, n in zip(keys, internal, strict=True)],
                        pl.nth(frame.get_column_index(duration)).alias("_duration"),
                        pl.nth(frame.get_column_index(observed)).alias("_observed"))
    if not work.schema["_duration"].is_numeric():
        raise TypeError(f"duration column {duration!r} must be numeric, not {frame.schema[duration]}")
    risks = km_risk_table(work, duration="_duration", observed="_observed", by=internal)
    result = km_quantiles_of_risks(risks, by=internal, quantiles=quantiles)
    return result.rename(dict(zip(internal, keys, strict=True)))


def _check_outputs(keys: Sequence[str], quantiles: Sequence[float]) -> list[str]:
    """The quantile columns' names; ValueError when an output column would repeat."""
    names = [quantile_column_name(q) for q in quantiles]
    outputs = [*keys, *names, "n", "events", "censored"]
    if len(set(outputs)) != len(outputs):
        raise ValueError(f"output columns would repeat: {outputs}")
    return names


def km_risk_table(frame: pl.DataFrame, *, duration: str, observed: str, by: Sequence[str] | None) -> pl.DataFrame:
    """What Kaplan–Meier needs of a frame of durations, per group: one row per group and distinct time with
    `_events` (observed endings at that time) and `_removed` (every row ending at that time, event or
    censored). The counts add up: the risk tables of parts of the rows, summed by group and time, are the
    risk table of all of them (so it can be built where the rows are, and the curve finished elsewhere)."""
    keys = list(by or [])
    for column in (duration, observed, *keys):
        if column not in frame.columns:
            raise ValueError(f"column {column!r} is not in the frame")
    if reserved := {"_time", "_events", "_removed"} & set(keys):
        raise ValueError(f"group columns named {sorted(reserved)} would clash with the risk table's own")
    if not frame.schema[duration].is_numeric():
        raise TypeError(f"duration column {duration!r} must be numeric, not {frame.schema[duration]}")
    # Work on internally named copies selected by position: user column names such as "*" or
    # "^a.*$" would be read as patterns by pl.col, and may clash with our helper names.
    key_names = [f"_key{i}" for i in range(len(keys))]
    work = frame.lazy().select(
        *[pl.nth(frame.get_column_index(k)).alias(n) for k, n in zip(keys, key_names, strict=False)],
        pl.nth(frame.get_column_index(duration)).alias("_time"),
        pl.nth(frame.get_column_index(observed)).alias("_event"),
    )
    checks = work.select(
        pl.col("_time").null_count().alias("null_durations"),
        pl.col("_event").null_count().alias("null_observed"),
        (pl.col("_time") < 0).sum().alias("negative"),
        (~pl.col("_time").cast(pl.Float64).is_finite()).sum().alias("not_finite"),
    ).collect().row(0, named=True)
    if any(checks.values()):
        raise ValueError(f"durations must be known, finite and ≥ 0; found {checks}")
    risks = (
        work.with_columns(pl.col("_event").cast(pl.Boolean))
        .group_by([*key_names, "_time"])
        .agg(pl.col("_event").sum().cast(pl.Int64).alias("_events"), pl.len().cast(pl.Int64).alias("_removed"))
        .collect()
    )
    return risks.rename(dict(zip(key_names, keys, strict=True)))


def km_quantiles_of_risks(risks: pl.DataFrame, *, by: Sequence[str] | None,
                          quantiles: Sequence[float] = (0.5, 0.8, 0.9)) -> pl.DataFrame:
    """`km_quantiles_frame` from a risk table (`km_risk_table`, or the sum of several by group and time; `by`
    may name fewer groups than it has: the others are summed away)."""
    keys = list(by or [])
    names = _check_outputs(keys, quantiles)
    key_names = [f"_key{i}" for i in range(len(keys))] or ["_all"]
    work = risks.lazy().select(
        *[pl.nth(risks.get_column_index(k)).alias(n) for k, n in zip(keys, key_names, strict=False)],
        *([pl.lit(0).alias("_all")] if not keys else []),
        "_time", "_events", "_removed",
    )
    steps = _km_steps(work, key_names)
    result = (
        steps.group_by(key_names, maintain_order=True)
        .agg(
            *[
                pl.col("_time").filter(1.0 - pl.col("_survival") >= q - _KM_TOLERANCE).first().alias(name)
                for q, name in zip(quantiles, names, strict=True)
            ],
            pl.col("_removed").sum().alias("n"),
            pl.col("_events").sum().alias("events"),
        )
        .with_columns((pl.col("n") - pl.col("events")).alias("censored"))
        .collect()
    )
    if not keys:
        return result.drop("_all")
    return result.rename(dict(zip(key_names, keys, strict=True)))
