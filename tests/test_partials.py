"""The metrics report counted per group of leads (funnel.analyses.partials) is the report counted over all leads.

An engine that computes per group of leads (Spark) counts the report inside its tasks, one bucket of leads per
call, and only the counts come back. Here DuckDB plays that engine: `Grouped.per_group` splits each query's
rows into buckets by lead and calls the task once per bucket, as Spark's tasks do, so the property runs
without Java on random stores, any number of buckets, both ladders, with and without segments and filters.
"""

from __future__ import annotations

import json
import zlib
from datetime import date, timedelta

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funnel import schema as sc
from funnel.analyses import aging, capture, conversion, distribution, drilldown, partials
from funnel.analyses.inputs import analysis_inputs
from funnel.analyses.report import metrics_report
from funnel.engine import is_spark
from funnel.engine.duckdb import DuckDBEngine
from funnel.errors import EngineError, FunnelError
from funnel.filters import Filters
from funnel.model import history
from funnel.model.build import build_funnel_entries
from funnel.model.stages import LEAD_GROUPS, LEADS_PER_GROUP, groups_for
from funnel.store.db import arrow_table
from tests.test_metrics_support import SETTINGS, store
from tests.test_stages import TYPES

BASE = date(2026, 1, 1)
STAGES = ("subscriber", "lead", "mql", "sql", "opportunity", "customer", "former_customer")


class Grouped(DuckDBEngine):
    """DuckDB answering as an engine that computes per group of leads: `per_group` hashes each query's rows
    into buckets by key and runs the function once per bucket that has any row (Spark's tasks, in one process).
    Made by `grouped(con)`, which names it an engine of that kind."""

    def tables(self):
        """Every table the store holds, the lead model's included (as a Spark dataset lists them)."""
        return [name for (name,) in self.connection.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()]

    def sql(self, sql, params=None):
        return self.connection.sql(sql, params=params)

    def execute(self, sql, params=None):
        return self.connection.execute(sql, params)

    def register(self, name, table):
        self.connection.register(name, table)

    def unregister(self, name):
        self.connection.unregister(name)

    def rows_in(self, table):
        """As many leads as a dataset split into the most groups, so steps that choose their own number of groups
        (`lead_groups`) split these small stores into many buckets (no figure may depend on it)."""
        return LEAD_GROUPS * LEADS_PER_GROUP

    def per_group(self, inputs, *, key, groups, function, schema):
        self.calls = getattr(self, "calls", 0) + 1
        tables = [pl.from_arrow(arrow_table(self.connection, sql, params)) for sql, params in inputs]
        bucket = [t.with_columns(pl.col(key).map_elements(lambda v: zlib.crc32(str(v).encode()) % groups,
                                                          return_dtype=pl.Int64).alias("_bucket"))
                  for t in tables]
        found = sorted({b for t in bucket for b in t.get_column("_bucket").to_list()})
        self.buckets = len(found)
        outputs = [function(*(t.filter(pl.col("_bucket") == b).drop("_bucket").to_arrow() for t in bucket))
                   for b in found]
        return pa.concat_tables([o.select(schema.names).cast(schema) for o in outputs]) if outputs \
            else schema.empty_table()


def grouped(con) -> Grouped:
    engine = Grouped(con, "grouped", engine="spark")
    assert is_spark(engine)  # else the report would be the whole one, compared with itself
    return engine


def when(day: int, hour: int) -> str:
    return f"{BASE + timedelta(days=day)} {hour:02d}:00"


@st.composite
def stores(draw) -> dict:
    """Leads with and without dates, sources (some unknown-like), countries and titles; lifecycle stage events; deals
    with amounts that floats add up differently in different orders; activities for the funnel ladder."""
    tables: dict[str, list[dict]] = {"leads": [], "stage_events": [], "deals": [], "activities": []}
    for i in range(draw(st.integers(0, 9))):
        lead = f"L{i}"
        created = draw(st.one_of(st.none(), st.integers(0, 60)))
        tables["leads"].append({
            "lead_id": lead, "created_at": None if created is None else when(created, 9),
            "lifecycle_stage": draw(st.one_of(st.none(), st.sampled_from(STAGES))),
            "source": draw(st.one_of(st.none(), st.sampled_from(("a", "b", "Unknown", " c ")))),
            "country": draw(st.sampled_from(("DE", "FR", ""))),
            "title": draw(st.sampled_from((None, "VP Sales", "Marketing intern", "CEO")))})
        for day, hour, stage in draw(st.lists(st.tuples(st.integers(0, 120), st.integers(0, 2),
                                                        st.sampled_from(STAGES)), max_size=5)):
            tables["stage_events"].append({"lead_id": lead, "ladder": "lifecycle", "stage": stage,
                                           "entered_at": when(day, hour), "reason": None})
        for k in range(draw(st.integers(0, 3))):
            opened = draw(st.integers(0, 120))
            closed = draw(st.one_of(st.none(), st.integers(opened, 150)))
            tables["deals"].append({"deal_id": f"{lead}-{k}", "lead_id": lead, "created_at": when(opened, 12),
                                    "closed_at": None if closed is None else when(closed, 12),
                                    "won": None if closed is None else draw(st.booleans()),
                                    "lost_reason": "Price", "amount": draw(st.sampled_from((0.1, 0.2, 19.99, 1e6)))})
        for k in range(draw(st.integers(0, 6))):
            tables["activities"].append({"activity_id": f"{lead}-A{k}", "lead_id": lead,
                                         "activity_type": draw(st.sampled_from(TYPES)),
                                         "occurred_at": when(draw(st.integers(0, 150)), draw(st.integers(0, 23)))})
    unique = {(e["lead_id"], e["stage"], e["entered_at"]): e for e in tables["stage_events"]}
    return {**tables, "stage_events": list(unique.values())}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stores(), st.sampled_from(sc.LADDERS),
       st.sampled_from((None, "source", "country", "seniority", "size_band", "attr:tier", "attr:Tier", "icp")),
       st.sampled_from(((), (("country", ("DE", "(unknown)")),))), st.sampled_from((1, 3, 64)),
       st.integers(-5, 160), st.booleans(), st.sampled_from(((30, None), (7, "strict"), (0, "implicit"))),
       st.sampled_from((None, (0, 5), (1, 3), (2, 4))))
def test_the_report_counted_per_group_of_leads_is_the_report(rows, ladder, by, segments, groups, day, modelled,
                                                             policy, pair):
    con = store(**{name: table for name, table in rows.items() if table})  # a fresh one: no lead model yet
    for i, lead in enumerate(row["lead_id"] for row in rows["leads"]):  # attribute keys that differ in case only
        tiers = ("MAP {'tier': 'gold'}", "MAP {'Tier': ' silver', 'region': 'emea'}", "NULL")
        con.execute(f"UPDATE leads SET attributes = {tiers[i % 3]} WHERE lead_id = ?", [lead])
    if modelled:
        build_funnel_entries(con, settings=SETTINGS)
    filters = Filters(as_of=BASE + timedelta(days=day), ladder=ladder, segments=segments)

    def report(con) -> str:
        try:
            return json.dumps(metrics_report(con, filters, settings=SETTINGS, by=by))
        except FunnelError as error:  # a dimension the leads lack: the same error either way
            return f"error: {error}"

    whole = report(con)
    engine = grouped(con)
    window, skipped = policy
    main = SETTINGS.ladders.stages(ladder)
    ends = {"from_stage": main[pair[0]], "to_stage": main[pair[1]]} if pair else {}
    counted = partials.engine_report_parts(engine, filters, settings=SETTINGS, by=by, window_days=window,
                                           skipped=skipped, pages=True, pair=tuple(ends.values()) or None,
                                           groups=groups)
    # Computed as on one machine: the funnel ladder without the lead model (its history is not one query), no
    # lead with any row, or a dimension the leads lack (one machine's preparation names it).
    here = ladder == sc.FUNNEL and not modelled or not rows["leads"] and not rows["stage_events"] \
        or whole.startswith("error")
    assert (counted is None) == here
    assert report(engine) == whole
    if counted is not None:  # what the leads behind the numbers lack, as the pages' sentence counts it here
        inputs = analysis_inputs(con, filters, settings=SETTINGS, by=by)
        alone = capture.data_quality_note(capture.lead_needs(con, as_of=filters.as_of),
                                          lead_ids=inputs.population.get_column("lead_id"))
        shell, parts = counted
        assert capture.data_quality_note_of(parts["quality"]).equals(alone)
        # and the pages' views besides the report: the monthly trend, the aging buckets
        assert distribution.trend_rows(shell, parts["trend"]).equals(distribution.distribution_trend_of(inputs))
        assert aging.bucket_rows(shell, parts["aging"]).equals(aging.aging_buckets_of(inputs))
        # and the Conversion page's, under the window and skipped-stage policy asked for
        losses = conversion.deal_losses(con, as_of=filters.as_of)
        assert conversion.step_rows(shell, parts["conversion"]).equals(
            conversion.stage_conversion_of(inputs, losses, window_days=window, skipped=skipped))
        assert conversion.cumulative_rows(shell, parts["cumulative"]).equals(
            conversion.cumulative_conversion_of(inputs, skipped=skipped))
        whole = analysis_inputs(con, filters, settings=SETTINGS)  # the views drawn over every lead
        cohorts = parts["cohorts"].with_columns(pl.lit(0, dtype=pl.Int32).alias("seg_key"))
        assert conversion.step_rows(partials.unsegmented(shell), cohorts, extra=("cohort_month",)).equals(
            conversion.conversion_cohorts_of(whole, losses, window_days=window, skipped=skipped))
        assert distribution.flow_rows(shell, parts["flows"]).equals(distribution.stage_flows_of(whole))
        assert ("convert" in parts) == bool(ends)
        if ends:
            assert conversion.time_to_convert_rows(shell, parts["convert"], **ends).equals(
                conversion.time_to_convert_of(inputs, skipped=skipped, **ends))
            assert conversion.curve_rows(parts["convert"]).equals(
                conversion.time_to_convert_curve_of(whole, skipped=skipped, **ends))


def test_the_counts_come_back_per_group_and_are_summed_key_by_key():
    """Buckets of leads each count their own; the merged parts are the counts over both, keyed by the
    segments numbered over all leads (sorted values), whichever bucket saw a segment first."""
    con = store(leads=[{"lead_id": "L1", "created_at": when(0, 9), "source": "b"},
                              {"lead_id": "L2", "created_at": when(1, 9), "source": "a"},
                              {"lead_id": "L3", "created_at": when(2, 9), "source": "b"}],
                stage_events=[{"lead_id": "L1", "ladder": "lifecycle", "stage": "mql", "entered_at": when(3, 9)},
                              {"lead_id": "L2", "ladder": "lifecycle", "stage": "mql", "entered_at": when(4, 9)}],
                deals=[{"deal_id": "D1", "lead_id": "L1", "created_at": when(5, 9), "closed_at": when(6, 9),
                        "won": True, "amount": 0.1},
                       {"deal_id": "D3", "lead_id": "L3", "created_at": when(5, 9), "closed_at": when(6, 9),
                        "won": True, "amount": 0.2}])
    engine = grouped(con)
    filters = Filters(as_of=BASE + timedelta(days=30), ladder=sc.LIFECYCLE)
    shell, parts = partials.engine_report_parts(engine, filters, settings=SETTINGS, by="source", window_days=30)
    assert engine.calls == 1 and engine.buckets == 3
    assert shell.segments.to_dicts() == [{"seg_key": 0, "source": "a"}, {"seg_key": 1, "source": "b"}]
    mql = SETTINGS.ladders.stages(sc.LIFECYCLE).index("mql")
    distribution = parts["distribution"].sort("seg_key", "stage_rank", nulls_last=True).rows()
    assert distribution == [(mql, 1, 0), (mql, 1, 1), (None, 1, 1)]  # (stage_rank, leads, seg_key)
    segments = parts["segments"].sort("seg_key")
    assert segments.get_column("leads").to_list() == [1, 2]
    assert segments.get_column("won_amount").cast(pl.Float64).to_list() == [0.0, 0.3]  # 0.1 + 0.2, exactly
    assert "notes" not in parts and shell.notes == ("history from stage events: 2 leads.",)
    assert parts["quality"].to_dicts() == [{"leads": 3, "creation date": 0, "owner": 3,
                                            "firmographics (industry and size)": 3}]


def test_a_dimension_the_leads_lack_is_the_same_error_as_on_one_machine():
    import pytest

    con = store(leads=[{"lead_id": "L1", "created_at": when(0, 9), "source": "a"}])
    filters = Filters(as_of=BASE + timedelta(days=30), ladder=sc.LIFECYCLE)
    with pytest.raises(FunnelError) as whole:
        metrics_report(con, filters, settings=SETTINGS, by="shoe_size")
    with pytest.raises(FunnelError) as in_groups:
        metrics_report(grouped(con), filters, settings=SETTINGS, by="shoe_size")
    assert str(in_groups.value) == str(whole.value) and "shoe_size" in str(whole.value)


@pytest.mark.parametrize("distinct", [0, 1, 199, 200, 201, 260])
def test_the_segment_dimensions_found_per_group_of_leads_are_those_of_every_lead(distinct):
    """A column is a segment with 1 to 200 distinct values: counted per bucket of leads (at most 201 values each),
    the same columns as over every lead at once, however the values fall into buckets."""
    con = store(leads=[{"lead_id": f"L{i}", "source": f"s{i % distinct}" if distinct else None,
                        "country": "DE" if i % 2 else None, "owner": f"owner {i}", "industry": f"i{i % 7}"}
                       for i in range(300)])
    alone = history.segment_dimensions(history.lead_frame(con, settings=SETTINGS))
    engine = grouped(con)
    assert history.segment_dimensions_in(engine, settings=SETTINGS) == alone
    assert engine.calls == 1 and engine.buckets > 1
    assert ("source" in alone) == (1 <= distinct <= 200) and "owner" not in alone and "country" in alone


# Stages by their rank on the ladder drawn (2: its third stage), so every kind runs on both ladders.
BEHIND = [("distribution", {}), ("distribution", {"stage": 2}), ("distribution", {"stage": "(no stage)"}),
          ("conversion", {"from_stage": 1}), ("conversion", {"from_stage": 2, "outcome": "advanced"}),
          ("conversion", {"from_stage": 3, "skipped": "strict", "window_days": 3}),
          ("conversion", {"from_stage": 4, "outcome": "lost"}),
          ("aging", {}), ("aging", {"over_sla": True}), ("aging", {"stage": 2, "bucket": "8–30"}),
          ("segment", {}), ("segment", {"reached": "customer", "won": True}), ("segment", {"skipped": "strict"})]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stores(), st.sampled_from(sc.LADDERS), st.sampled_from(BEHIND), st.sampled_from((None, {"source": "a"},
       {"country": "(unknown)"})), st.sampled_from((1, 3, 64)), st.integers(-5, 160))
def test_the_rows_behind_a_number_selected_per_group_of_leads_are_those_over_every_lead(rows, ladder, wanted, segment,
                                                                                      groups, day):
    """A row's leads listed from the engine's tasks (only those rows come back) are the rows and order one machine
    lists, for every kind, selector and segment; the store's lead model built."""
    con = store(**{name: table for name, table in rows.items() if table})
    build_funnel_entries(con, settings=SETTINGS)
    filters = Filters(as_of=BASE + timedelta(days=day), ladder=ladder)
    kind, selectors = wanted
    stages = SETTINGS.ladders.stages(ladder)
    selectors = {k: stages[v] if k in ("stage", "from_stage") and isinstance(v, int) else v for k, v in selectors.items()}
    whole = drilldown.leads_behind(con, filters, settings=SETTINGS, kind=kind, segment=segment, **selectors)
    engine = grouped(con)
    behind = drilldown.leads_behind(engine, filters, settings=SETTINGS, kind=kind, segment=segment, **selectors)
    assert behind.equals(whole)
    assert engine.calls == 1


def test_a_wrong_selector_is_the_same_error_before_any_task_runs():
    con = store(leads=[{"lead_id": "L1", "created_at": when(0, 9), "source": "a"}])
    filters = Filters(as_of=BASE + timedelta(days=30), ladder=sc.LIFECYCLE)
    for options in ({"kind": "distribution", "stage": "nope"}, {"kind": "conversion"},
                    {"kind": "conversion", "from_stage": "lead", "outcome": "maybe"},
                    {"kind": "segment", "reached": "subscriber"}, {"kind": "shoes"}):
        with pytest.raises(FunnelError) as whole:
            drilldown.leads_behind(con, filters, settings=SETTINGS, **options)
        engine = grouped(con)
        with pytest.raises(FunnelError) as in_groups:
            drilldown.leads_behind(engine, filters, settings=SETTINGS, **options)
        assert str(in_groups.value) == str(whole.value) and getattr(engine, "calls", 0) == 0


def test_the_rows_behind_a_number_keep_the_engines_bound_on_rows_brought_back():
    """Past $FUNNEL_SPARK_MAX_ROWS the rows behind a number stop with the engine's error, as any result does."""
    con = store(leads=[{"lead_id": f"L{i}", "created_at": when(i, 9), "source": "a"} for i in range(3)])
    filters = Filters(as_of=BASE + timedelta(days=30), ladder=sc.LIFECYCLE)
    engine = grouped(con)
    engine.max_rows = 3
    assert drilldown.leads_behind(engine, filters, settings=SETTINGS, kind="distribution").height == 3
    engine.max_rows = 2
    with pytest.raises(EngineError, match="more than 2 rows would come back"):
        drilldown.leads_behind(engine, filters, settings=SETTINGS, kind="distribution")


def test_a_time_to_convert_pair_out_of_order_is_the_error_of_one_machine_before_any_task():
    con = store(leads=[{"lead_id": "L1", "created_at": when(0, 9), "source": "a"}])
    filters = Filters(as_of=BASE + timedelta(days=30), ladder=sc.LIFECYCLE)
    inputs = analysis_inputs(con, filters, settings=SETTINGS)
    with pytest.raises(FunnelError) as whole:
        conversion.time_to_convert_of(inputs, from_stage="customer", to_stage="lead")
    engine = grouped(con)
    with pytest.raises(FunnelError) as in_groups:
        partials.engine_report_parts(engine, filters, settings=SETTINGS, by=None, window_days=30, pages=True,
                                     pair=("customer", "lead"))
    assert str(in_groups.value) == str(whole.value) and getattr(engine, "calls", 0) == 0


def test_leads_are_split_into_one_group_per_ten_thousand_between_one_and_sixty_four():
    assert [groups_for(n) for n in (0, 1, 3_000, 10_000, 10_001, 250_000, 640_000, 1_000_000, 10**8)] == \
        [1, 1, 1, 1, 2, 25, 64, 64, 64]
    assert LEADS_PER_GROUP == 10_000 and LEAD_GROUPS == 64


def test_an_engine_counts_the_leads_it_splits():
    con = store(leads=[{"lead_id": f"L{i}", "created_at": "2026-01-01"} for i in range(3)])
    assert DuckDBEngine(con, "store").rows_in("leads") == 3
