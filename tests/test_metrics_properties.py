"""Properties of the metrics on generated stage histories: outcomes add up to entries, breakdowns
sum to totals, rates stay in [0, 1], reach never grows along the ladder, a narrower segment filter
never adds leads, the rows behind a number are as many as the number, and nothing depends on the
order of the rows."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funnel.analyses import (
    aging_buckets_of,
    analysis_inputs,
    cumulative_conversion_of,
    deal_losses,
    lead_deals,
    leads_behind,
    segment_performance_of,
    stage_aging_of,
    stage_conversion_of,
    stage_distribution_of,
)
from funnel.filters import Filters
from tests.test_metrics_support import SETTINGS, store

BASE = date(2026, 1, 1)
STAGES = ("subscriber", "lead", "mql", "sql", "opportunity", "customer", "former_customer")
OUTCOMES = ("advanced", "lost", "expired", "open")
STORE = store()  # emptied and refilled for every example


def when(day: int, hour: int) -> str:
    return f"{BASE + timedelta(days=day)} {hour:02d}:00"


@st.composite
def histories(draw) -> dict:
    leads, stage_events, deals = [], [], []
    for i in range(draw(st.integers(0, 7))):
        lead = f"L{i}"
        created = draw(st.one_of(st.none(), st.integers(0, 60)))
        leads.append({"lead_id": lead, "created_at": None if created is None else when(created, 9),
                      "lifecycle_stage": draw(st.one_of(st.none(), st.sampled_from(STAGES))),
                      "source": draw(st.one_of(st.none(), st.sampled_from(("a", "b"))))})
        for day, hour, stage in draw(st.lists(st.tuples(st.integers(0, 120), st.integers(0, 2),
                                                        st.sampled_from(STAGES)), max_size=6)):
            stage_events.append({"lead_id": lead, "ladder": "lifecycle", "stage": stage, "entered_at": when(day, hour),
                                 "reason": None})
        for k in range(draw(st.integers(0, 2))):
            opened = draw(st.integers(0, 120))
            closed = draw(st.one_of(st.none(), st.integers(opened, 150)))
            deals.append({"deal_id": f"{lead}-{k}", "lead_id": lead, "created_at": when(opened, 12),
                          "closed_at": None if closed is None else when(closed, 12),
                          "won": None if closed is None else draw(st.booleans()), "amount": 100.0})
    # Deduplicate by key (lead, stage, time) as the store does.
    unique = {(e["lead_id"], e["stage"], e["entered_at"]): e for e in stage_events}
    return {"leads": leads, "stage_events": list(unique.values()), "deals": deals}


def compute(data: dict, *, as_of: date, window: int, skipped: str, order: list[int] | None = None,
            segments: tuple = ()) -> dict[str, pl.DataFrame]:
    events = data["stage_events"]
    if order is not None:
        events = [events[i] for i in order]
    con = store(STORE, leads=data["leads"], stage_events=events, deals=data["deals"])
    f = Filters(as_of=as_of, segments=segments)
    inputs = analysis_inputs(con, f, settings=SETTINGS, by="source")
    return {
        "distribution": stage_distribution_of(inputs),
        "conversion": stage_conversion_of(inputs, deal_losses(con, as_of=as_of), window_days=window, skipped=skipped),
        "aging": stage_aging_of(inputs),
        "buckets": aging_buckets_of(inputs),
        "segments": segment_performance_of(inputs, lead_deals(con, as_of=as_of), skipped=skipped),
        "cumulative": cumulative_conversion_of(inputs, skipped=skipped),
        "_con": con, "_filters": f,
    }


def totals(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter(pl.col("source").is_null())


def by_segment(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter(pl.col("source").is_not_null())


def sums(frame: pl.DataFrame, keys: list[str], count: str) -> dict:
    """count summed per key, zero sums left out."""
    if not keys:
        return {(): frame[count].sum()}
    grouped = frame.group_by([pl.col(k).cast(pl.String) for k in keys]).agg(pl.col(count).sum())
    return {tuple(r[:-1]): r[-1] for r in grouped.rows() if r[-1]}


FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
as_of_days = st.integers(-5, 160)
windows = st.integers(0, 60)
policies = st.sampled_from(("implicit", "strict"))


@FAST
@given(histories(), as_of_days, windows, policies)
def test_counts_add_up_and_rates_stay_in_range(data, day, window, skipped):
    as_of = BASE + timedelta(days=day)
    got = compute(data, as_of=as_of, window=window, skipped=skipped)

    conversion = got["conversion"]
    assert (conversion["entered"] == sum(conversion[o] for o in OUTCOMES)).all()
    decided = conversion["advanced"] + conversion["lost"] + conversion["expired"]
    assert (conversion["rate"].is_null() == (decided == 0)).all()

    distribution = got["distribution"]
    population = distribution.filter(pl.col("source").is_null())["leads"].sum()
    for name, keys, count in (("distribution", ["stage"], "leads"), ("conversion", ["from_stage"], "entered"),
                              ("aging", ["stage"], "leads"), ("buckets", ["stage", "bucket"], "leads"),
                              ("segments", [], "leads")):
        frame = got[name]
        whole = sums(totals(frame), keys, count)
        parts = sums(by_segment(frame), keys, count)
        assert whole == parts, name
    assert totals(got["segments"])["leads"][0] == population
    aging = totals(got["aging"])
    labels = list(SETTINGS.aging.bucket_labels())
    assert (aging["dated"] == aging.select(pl.sum_horizontal(labels)).to_series()).all()

    for name, frame in got.items():
        if name.startswith("_"):
            continue
        for column in frame.columns:
            if column in ("rate", "share", "step_rate") or column.endswith(("_rate", "_lo", "_hi", "_value")):
                values = frame[column].drop_nulls()
                assert ((values >= 0) & (values <= 1)).all(), (name, column)


@FAST
@given(histories(), as_of_days, policies)
def test_reach_never_grows_along_the_ladder(data, day, skipped):
    got = compute(data, as_of=BASE + timedelta(days=day), window=30, skipped="implicit")
    segments = got["segments"]
    reached = segments.select("reached_mql", "reached_sql", "reached_opportunity", "reached_customer").rows()
    for row in reached:
        assert list(row) == sorted(row, reverse=True)
    for _, part in got["cumulative"].group_by("source"):
        counts = part["reached"].to_list()
        assert counts == sorted(counts, reverse=True)
        assert all(c <= part["cohort"][0] for c in counts)


@FAST
@given(histories(), as_of_days)
def test_a_narrower_segment_filter_never_adds_leads(data, day):
    as_of = BASE + timedelta(days=day)
    everyone = compute(data, as_of=as_of, window=30, skipped="implicit")
    only_a = compute(data, as_of=as_of, window=30, skipped="implicit", segments=(("source", ("a",)),))
    for name, count in (("distribution", "leads"), ("conversion", "entered"), ("aging", "leads")):
        wide = totals(everyone[name])[count].to_list()
        narrow = totals(only_a[name])[count].to_list()
        assert all(n <= w for n, w in zip(narrow, wide, strict=True)), name
    a_row = everyone["distribution"].filter(pl.col("source") == "a")
    assert totals(only_a["distribution"])["leads"].sum() == a_row["leads"].sum()


@FAST
@given(histories(), as_of_days, windows, policies, st.randoms(use_true_random=False))
def test_results_do_not_depend_on_row_order(data, day, window, skipped, rnd):
    as_of = BASE + timedelta(days=day)
    order = list(range(len(data["stage_events"])))
    rnd.shuffle(order)
    first = compute(data, as_of=as_of, window=window, skipped=skipped)
    second = compute(data, as_of=as_of, window=window, skipped=skipped, order=order)
    for name in ("distribution", "conversion", "aging", "segments", "cumulative"):
        assert first[name].equals(second[name]), name


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(), as_of_days)
def test_every_number_opens_to_as_many_rows(data, day):
    got = compute(data, as_of=BASE + timedelta(days=day), window=30, skipped="implicit")
    con, f = got["_con"], got["_filters"]
    for stage, leads in totals(got["distribution"]).select("stage", "leads").rows():
        behind = leads_behind(con, f, settings=SETTINGS, kind="distribution", stage=stage or "(no stage)")
        assert behind.height == leads
    step = totals(got["conversion"]).row(1, named=True)  # lead → mql
    for outcome in OUTCOMES:
        behind = leads_behind(con, f, settings=SETTINGS, kind="conversion", from_stage="lead", outcome=outcome,
                              window_days=30)
        assert behind.height == step[outcome]
    prepared = analysis_inputs(con, f, settings=SETTINGS)  # as a page holds them: the same rows, not read again
    for kind, options in (("distribution", {}), ("conversion", {"from_stage": "lead", "window_days": 30}),
                          ("aging", {"over_sla": True}), ("segment", {"reached": "mql"})):
        fresh = leads_behind(con, f, settings=SETTINGS, kind=kind, **options)
        assert leads_behind(con, f, settings=SETTINGS, kind=kind, prepared=prepared, **options).equals(fresh), kind
