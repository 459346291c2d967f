"""The funnel functions the pages call, each behind its own plain Streamlit cache, keyed by the store
(database, data version, settings) and the call's arguments. The core metrics share one prepared
`analysis_inputs` per filters and segmentation (a cached resource: read once, never copied). What has a row per
lead (the leads behind a number, work queues, alerts, exports) is a cached resource too: a cached value would be
pickled once and copied out again on every run of the page, at a million leads seconds and gigabytes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from threading import Lock

import polars as pl
import streamlit as st

from funnel.analyses import aging as aging_analyses
from funnel.analyses import (
    capture,
    conversion,
    distribution,
    drilldown,
    fix_files,
    inputs,
    lead_search,
    partials,
    segments,
    tool_exports,
)
from funnel.analyses import crm_audit as crm_audit_analyses
from funnel.analyses import deals as deal_analyses
from funnel.analyses import handoff as handoff_analyses
from funnel.analyses import hygiene as hygiene_analyses
from funnel.analyses import routing as routing_analyses
from funnel.config import with_routing_text
from funnel.display import lead as lead_display
from funnel.filters import Filters
from funnel.model import history, identity, matrix, records, scoring, stages
from funnel.schema import LEAD_ID, LIFECYCLE
from funnel.store.inventory import data_days
from pages.ui.store import COMPUTING, StoreKey, inventory_of, key

# ------------------------------------------------------------------------------ the core metrics


def _newest_day(at: StoreKey) -> date | None:
    """The sidebar's default as-of date (the day of the store's newest timestamp), from its cached inventory."""
    days = data_days(*inventory_of(at))
    return None if days is None else days[1]


@st.cache_resource(max_entries=2, show_spinner=COMPUTING)  # one a ladder (~250 MB at 1M leads)
def _whole_history(at: StoreKey, ladder: str, newest: date) -> pl.DataFrame:
    """A ladder's stage history at the store's newest day. Both ladders are causal, so the history at any earlier
    date is this one cut at that date (`history_until`): an as-of change cuts it instead of reading it again."""
    with at.opened() as con:
        return history.stage_history(con, ladder=ladder, settings=at.settings, as_of=newest)


@st.cache_resource(max_entries=8, show_spinner=COMPUTING)
def _analysis(at: StoreKey, filters: Filters, by: tuple[str, ...]) -> inputs.AnalysisInputs:
    newest = _newest_day(at)
    cut = (history.history_until(_whole_history(at, filters.ladder, newest), filters.as_of)
           if newest is not None and filters.as_of <= newest else None)
    with at.opened() as con:
        return inputs.analysis_inputs(con, filters, settings=at.settings, by=by or None, history=cut)


def analysis(filters: Filters, by: tuple[str, ...] = ()) -> inputs.AnalysisInputs:
    """The prepared inputs of every core metric (history, population, segments): read from the store
    once per data version, settings, filters and segmentation, and shared (never copied) by the pages."""
    return _analysis(key(), filters, tuple(by))


@st.cache_resource(max_entries=16, show_spinner=COMPUTING)
def _deal_losses(at: StoreKey, as_of: date) -> pl.DataFrame:
    with at.opened() as con:
        return conversion.deal_losses(con, as_of=as_of)


@st.cache_resource(max_entries=16, show_spinner=COMPUTING)
def _lead_deals(at: StoreKey, as_of: date) -> pl.DataFrame:
    with at.opened() as con:
        return segments.lead_deals(con, as_of=as_of)


@st.cache_resource(max_entries=32, show_spinner=COMPUTING)
def _counted(at: StoreKey, filters: Filters, by: tuple[str, ...], window_days: int, skipped: str,
             pair: tuple[str, str] | None) -> partials.Counted | None:
    with at.opened() as con:
        return partials.engine_report_parts(con, filters, settings=at.settings, by=by or None, window_days=window_days,
                                            skipped=skipped, pages=True, pair=pair)


def _counts(at: StoreKey, filters: Filters, by: tuple[str, ...], *, window_days: int | None = None,
            skipped: str | None = None, pair: tuple[str, str] | None = None) -> partials.Counted | None:
    """On Spark: the report's counts and the pages' (`partials.page_parts`) taken inside the engine's tasks, under
    the conversion window and skipped-stage policy (None: the settings'), with a `pair` of stages the time to
    convert between them, so only counts come back to this process.
    None on DuckDB, or where the engine cannot count them (then the page prepares every lead's rows here, as on one
    machine)."""
    if at.engine != "spark":
        return None
    window, implicit = inputs.conversion_policy(at.settings, window_days, skipped)
    return _counted(at, filters, by, window, "implicit" if implicit else "strict", pair)


@st.cache_data(max_entries=32, show_spinner=COMPUTING)
def _segment_performance(at: StoreKey, filters: Filters, by: tuple[str, ...]) -> pl.DataFrame:
    if (counted := _counts(at, filters, by)) is not None:
        shell, parts = counted
        return segments.segment_rows(shell, parts["segments"], parts["to_customer"])
    return segments.segment_performance_of(_analysis(at, filters, by), _lead_deals(at, filters.as_of))


def segment_performance(filters: Filters, by: tuple[str, ...] = ()) -> pl.DataFrame:
    return _segment_performance(key(), filters, tuple(by))


def reported_stages(filters: Filters) -> tuple[str, ...]:
    """The stages whose reach the segment table reports, in ladder order."""
    return segments.reported_stages(analysis(filters))


@st.cache_data(max_entries=32, show_spinner=COMPUTING)
def _stage_distribution(at: StoreKey, filters: Filters, by: tuple[str, ...]) -> pl.DataFrame:
    if (counted := _counts(at, filters, by)) is not None:
        shell, parts = counted
        return distribution.distribution_rows(shell, parts["distribution"])
    return distribution.stage_distribution_of(_analysis(at, filters, by))


def stage_distribution(filters: Filters, by: tuple[str, ...] = ()) -> pl.DataFrame:
    return _stage_distribution(key(), filters, tuple(by))


@st.cache_data(max_entries=32, show_spinner=COMPUTING)
def _distribution_trend(at: StoreKey, filters: Filters, by: tuple[str, ...]) -> pl.DataFrame:
    if (counted := _counts(at, filters, by)) is not None:
        shell, parts = counted
        return distribution.trend_rows(shell, parts["trend"])
    return distribution.distribution_trend_of(_analysis(at, filters, by))


def distribution_trend(filters: Filters, by: tuple[str, ...] = ()) -> pl.DataFrame:
    return _distribution_trend(key(), filters, tuple(by))


@st.cache_data(max_entries=32, show_spinner=COMPUTING)
def _stage_flows(at: StoreKey, filters: Filters) -> pl.DataFrame:
    if (counted := _counts(at, filters, ())) is not None:
        shell, parts = counted
        return distribution.flow_rows(shell, parts["flows"])
    return distribution.stage_flows_of(_analysis(at, filters, ()))


def stage_flows(filters: Filters) -> pl.DataFrame:
    return _stage_flows(key(), filters)


@st.cache_data(max_entries=32, show_spinner=COMPUTING)
def _cumulative_conversion(at: StoreKey, filters: Filters, by: tuple[str, ...], skipped: str | None) -> pl.DataFrame:
    if (counted := _counts(at, filters, by, skipped=skipped)) is not None:
        shell, parts = counted
        return conversion.cumulative_rows(shell, parts["cumulative"])
    return conversion.cumulative_conversion_of(_analysis(at, filters, by), skipped=skipped)


def cumulative_conversion(filters: Filters, by: tuple[str, ...] = (), *, skipped: str | None = None) -> pl.DataFrame:
    return _cumulative_conversion(key(), filters, tuple(by), skipped)


@st.cache_data(max_entries=32, show_spinner=COMPUTING)
def _stage_conversion(at: StoreKey, filters: Filters, by: tuple[str, ...], window_days: int,
                      skipped: str) -> pl.DataFrame:
    if (counted := _counts(at, filters, by, window_days=window_days, skipped=skipped)) is not None:
        shell, parts = counted
        return conversion.step_rows(shell, parts["conversion"])
    return conversion.stage_conversion_of(_analysis(at, filters, by), _deal_losses(at, filters.as_of),
                                          window_days=window_days, skipped=skipped)


def stage_conversion(filters: Filters, by: tuple[str, ...] = (), *, window_days: int, skipped: str) -> pl.DataFrame:
    return _stage_conversion(key(), filters, tuple(by), window_days, skipped)


@st.cache_data(max_entries=32, show_spinner=COMPUTING)
def _conversion_cohorts(at: StoreKey, filters: Filters, window_days: int, skipped: str) -> pl.DataFrame:
    if (counted := _counts(at, filters, (), window_days=window_days, skipped=skipped)) is not None:
        shell, parts = counted
        return conversion.step_rows(partials.unsegmented(shell), parts["cohorts"], extra=("cohort_month",))
    return conversion.conversion_cohorts_of(_analysis(at, filters, ()), _deal_losses(at, filters.as_of),
                                            window_days=window_days, skipped=skipped)


def conversion_cohorts(filters: Filters, *, window_days: int, skipped: str) -> pl.DataFrame:
    return _conversion_cohorts(key(), filters, window_days, skipped)


@st.cache_data(max_entries=32, show_spinner=COMPUTING)
def _time_to_convert(at: StoreKey, filters: Filters, by: tuple[str, ...], from_stage: str, to_stage: str,
                     skipped: str) -> pl.DataFrame:
    if (counted := _counts(at, filters, by, skipped=skipped, pair=(from_stage, to_stage))) is not None:
        shell, parts = counted
        return conversion.time_to_convert_rows(shell, parts["convert"], from_stage=from_stage, to_stage=to_stage)
    return conversion.time_to_convert_of(_analysis(at, filters, by), from_stage=from_stage, to_stage=to_stage,
                                         skipped=skipped)


def time_to_convert(filters: Filters, by: tuple[str, ...] = (), *, from_stage: str, to_stage: str,
                    skipped: str) -> pl.DataFrame:
    return _time_to_convert(key(), filters, tuple(by), from_stage, to_stage, skipped)


@st.cache_data(max_entries=32, show_spinner=COMPUTING)
def _time_to_convert_curve(at: StoreKey, filters: Filters, by: tuple[str, ...], from_stage: str, to_stage: str,
                           skipped: str) -> pl.DataFrame:
    # every lead is in the curve; on Spark it sums the risk tables the page's summary (segmented by `by`) counts
    if (counted := _counts(at, filters, by, skipped=skipped, pair=(from_stage, to_stage))) is not None:
        return conversion.curve_rows(counted[1]["convert"])
    return conversion.time_to_convert_curve_of(_analysis(at, filters, ()), from_stage=from_stage, to_stage=to_stage,
                                               skipped=skipped)


def time_to_convert_curve(filters: Filters, by: tuple[str, ...] = (), *, from_stage: str, to_stage: str,
                          skipped: str) -> pl.DataFrame:
    """Every lead's time to convert (not segmented: `by` is the page's segmentation, which on Spark shares the
    summary's counts)."""
    return _time_to_convert_curve(key(), filters, tuple(by), from_stage, to_stage, skipped)


@st.cache_data(max_entries=32, show_spinner=COMPUTING)
def _stage_aging(at: StoreKey, filters: Filters, by: tuple[str, ...]) -> pl.DataFrame:
    if (counted := _counts(at, filters, by)) is not None:
        shell, parts = counted
        return aging_analyses.aging_rows(shell, parts["aging"], parts["stays"])
    return aging_analyses.stage_aging_of(_analysis(at, filters, by))


def stage_aging(filters: Filters, by: tuple[str, ...] = ()) -> pl.DataFrame:
    return _stage_aging(key(), filters, tuple(by))


@st.cache_data(max_entries=32, show_spinner=COMPUTING)
def _aging_buckets(at: StoreKey, filters: Filters, by: tuple[str, ...]) -> pl.DataFrame:
    if (counted := _counts(at, filters, by)) is not None:
        shell, parts = counted
        return aging_analyses.bucket_rows(shell, parts["aging"])
    return aging_analyses.aging_buckets_of(_analysis(at, filters, by))


def aging_buckets(filters: Filters, by: tuple[str, ...] = ()) -> pl.DataFrame:
    return _aging_buckets(key(), filters, tuple(by))


@st.cache_resource(max_entries=64, show_spinner=COMPUTING)
def _behind(at: StoreKey, filters: Filters, selectors: tuple) -> pl.DataFrame:
    options = {k: dict(v) if k == "segment" and v is not None else v for k, v in selectors}
    # On Spark the rows are selected in the engine's tasks, and only they come back: nothing prepared here.
    prepared = _analysis(at, filters, ()) if at.engine != "spark" else None
    with at.opened() as con:
        return drilldown.leads_behind(con, filters, settings=at.settings, prepared=prepared,
                                      history=prepared.history if prepared is not None else None, **options)


def behind(filters: Filters, **selectors) -> pl.DataFrame:
    """The leads behind a number (`leads_behind`), reusing the prepared stage history (on Spark, selected in its
    tasks); cached."""
    frozen = tuple(sorted((k, tuple(sorted(v.items())) if isinstance(v, Mapping) else v)
                          for k, v in selectors.items()))
    return _behind(key(), filters, frozen)


@st.cache_data(max_entries=16, show_spinner=COMPUTING)
def _segment_dimensions(at: StoreKey) -> list[str]:
    with at.opened() as con:
        return [*history.segment_dimensions_in(con, settings=at.settings), *history.SCORE_COLUMNS]


def segment_dimensions() -> list[str]:
    """The lead attributes a page can segment by (source, industry, size band, …, then ICP, quadrant and
    tags). Listing them reads no scores: those are computed only when a page segments by them."""
    return _segment_dimensions(key())


@st.cache_data(max_entries=32, show_spinner=COMPUTING)
def _deal_performance(at: StoreKey, as_of: date, by: str) -> pl.DataFrame:
    with at.opened() as con:
        return deal_analyses.deal_performance(con, settings=at.settings, as_of=as_of, by=by)


def deal_performance(as_of: date, *, by: str) -> pl.DataFrame:
    return _deal_performance(key(), as_of, by)


@st.cache_data(max_entries=16, show_spinner=False)
def _undated_deals(at: StoreKey) -> int:
    with at.opened() as con:
        return deal_analyses.undated_deals(con)


def undated_deals() -> int:
    """How many deals have no creation date (left out of deals by their account)."""
    return _undated_deals(key())


@st.cache_data(max_entries=16, show_spinner=False)
def _deal_dimensions(at: StoreKey) -> list[str]:
    with at.opened() as con:
        return deal_analyses.deal_dimensions(con)


def deal_dimensions() -> list[str]:
    """What deals can be segmented by: the account and deal columns, then the custom attributes."""
    return _deal_dimensions(key())


# ------------------------------------------------------------------------------------- one lead


@st.cache_data(max_entries=64, show_spinner=COMPUTING)
def _matching_leads(at: StoreKey, query: str) -> pl.DataFrame:
    with at.opened() as con:
        return lead_search.matching_leads(con, query=query)


def matching_leads(query: str) -> pl.DataFrame:
    return _matching_leads(key(), query)


@st.cache_data(max_entries=64, show_spinner=COMPUTING)
def _lead_view(at: StoreKey, lead_id: str, as_of: date) -> lead_display.LeadView | None:
    with at.opened() as con:
        return lead_display.lead_view(con, lead_id, settings=at.settings, as_of=as_of)


def lead_view(lead_id: str, as_of: date) -> lead_display.LeadView | None:
    return _lead_view(key(), lead_id, as_of)


@st.cache_data(max_entries=64, show_spinner=COMPUTING)
def _next_stage_gap(at: StoreKey, lead_id: str, as_of: date) -> pl.DataFrame | None:
    with at.opened() as con:
        gaps = stages.next_stage_gap(con, lead_id, settings=at.settings, as_of=as_of)
    return pl.DataFrame(gaps).select("stage", "text", "have", "need", "by") if gaps else None


def next_stage_gap(lead_id: str, as_of: date) -> pl.DataFrame | None:
    """The ways into the lead's next stage (stage, text, have, need, by); None for a customer."""
    return _next_stage_gap(key(), lead_id, as_of)


@st.cache_data(max_entries=64, show_spinner=COMPUTING)
def _stage_explanation(at: StoreKey, lead_id: str, as_of: date) -> pl.DataFrame:
    with at.opened() as con:
        return stages.stage_explanation(con, lead_id, settings=at.settings, as_of=as_of)


def stage_explanation(lead_id: str, as_of: date) -> pl.DataFrame:
    return _stage_explanation(key(), lead_id, as_of)


@st.cache_data(max_entries=64, show_spinner=COMPUTING)
def _fit_explanation(at: StoreKey, lead_id: str, as_of: date) -> pl.DataFrame:
    with at.opened() as con:
        return scoring.fit_explanation(con, lead_id, settings=at.settings, as_of=as_of)


def fit_explanation(lead_id: str, as_of: date) -> pl.DataFrame:
    return _fit_explanation(key(), lead_id, as_of)


@st.cache_data(max_entries=64, show_spinner=COMPUTING)
def _intent_explanation(at: StoreKey, lead_id: str, as_of: date) -> pl.DataFrame:
    with at.opened() as con:
        return scoring.intent_explanation(con, lead_id, settings=at.settings, as_of=as_of)


def intent_explanation(lead_id: str, as_of: date) -> pl.DataFrame:
    return _intent_explanation(key(), lead_id, as_of)


# ------------------------------------------------------------------------- fit × intent matrix


@st.cache_resource(max_entries=4, show_spinner=COMPUTING)
def _held_lead_scores(at: StoreKey, as_of: date) -> pl.DataFrame:
    """Every lead's scores and route at D by the settings in view, computed once per D for every page and session,
    held with its text columns (stages, owners, actions, rules) dictionary-coded: 80 MB instead of 210 MB at 1M
    leads, decoded in a tenth of a second when read."""
    with at.opened() as con:
        scores = scoring.lead_scores(con, settings=at.settings, as_of=as_of)
    return scores.with_columns(pl.col(pl.String).exclude(LEAD_ID).cast(pl.Categorical))


def shared_lead_scores(at: StoreKey, as_of: date) -> pl.DataFrame:
    """`scoring.lead_scores` at D, shared: the Overview's and the Routing page's alerts, the matrix at the saved
    thresholds, the Routing page's check of the rules in force and the handoff review's sample read it."""
    return _held_lead_scores(at, as_of).with_columns(pl.col(pl.Categorical).cast(pl.String))


@st.cache_resource(max_entries=4, show_spinner=COMPUTING)
def _tuned_scores(at: StoreKey, as_of: date, fit_threshold: float, intent_threshold: float) -> pl.DataFrame:
    with at.opened() as con:
        return matrix.matrix_scores(con, settings=at.settings, as_of=as_of, fit_threshold=fit_threshold,
                                    intent_threshold=intent_threshold)


def _matrix_scores(at: StoreKey, as_of: date, fit_threshold: float, intent_threshold: float) -> pl.DataFrame:
    """The scores at D the cells and every work queue read: at the thresholds of the settings in view (the saved
    ones, or the draft previewed), the lead scores every page shares (the matrix's scores are those); at the
    sliders' other thresholds, scored with them."""
    if (fit_threshold, intent_threshold) == (at.settings.fit.high_threshold, at.settings.intent.high_threshold):
        return shared_lead_scores(at, as_of)
    return _tuned_scores(at, as_of, fit_threshold, intent_threshold)


@st.cache_resource(max_entries=4, show_spinner=COMPUTING)
def _cutoff_scores(at: StoreKey, as_of: date, fit_threshold: float, intent_threshold: float) -> pl.DataFrame:
    """The scores without the route at D's validation cutoff: the cells' later conversion and the score check
    read them (a cached resource: never copied)."""
    with at.opened() as con:
        return matrix.matrix_quadrants(con, settings=at.settings, as_of=scoring.validation_cutoff(at.settings, as_of),
                                       fit_threshold=fit_threshold, intent_threshold=intent_threshold)


@st.cache_data(max_entries=32, show_spinner=COMPUTING)
def _matrix_cells(at: StoreKey, as_of: date, fit_threshold: float, intent_threshold: float) -> pl.DataFrame:
    scores = _matrix_scores(at, as_of, fit_threshold, intent_threshold)
    then = _cutoff_scores(at, as_of, fit_threshold, intent_threshold)
    with at.opened() as con:
        return matrix.matrix_cells(con, settings=at.settings, as_of=as_of, fit_threshold=fit_threshold,
                                   intent_threshold=intent_threshold, scores=scores, then=then)


def matrix_cells(as_of: date, *, fit_threshold: float, intent_threshold: float) -> pl.DataFrame:
    return _matrix_cells(key(), as_of, fit_threshold, intent_threshold)


@st.cache_data(max_entries=16, show_spinner=False)
def _fit_data_note(at: StoreKey, as_of: date) -> str | None:
    with at.opened() as con:
        return matrix.fit_data_note(con, settings=at.settings, as_of=as_of)


def fit_data_note(as_of: date) -> str | None:
    """A note when fit cannot be computed (or rests on few leads) for lack of firmographics."""
    return _fit_data_note(key(), as_of)


@st.cache_resource(max_entries=32, show_spinner=COMPUTING)
def _work_queue(at: StoreKey, as_of: date, queue: str, fit_threshold: float, intent_threshold: float) -> pl.DataFrame:
    scores = _matrix_scores(at, as_of, fit_threshold, intent_threshold)
    with at.opened() as con:
        return matrix.work_queue(con, settings=at.settings, as_of=as_of, queue=queue, fit_threshold=fit_threshold,
                                 intent_threshold=intent_threshold, scores=scores)


def work_queue(as_of: date, *, queue: str, fit_threshold: float, intent_threshold: float) -> pl.DataFrame:
    return _work_queue(key(), as_of, queue, fit_threshold, intent_threshold)


@st.cache_data(max_entries=16, show_spinner=COMPUTING)
def _score_validation(at: StoreKey, as_of: date) -> dict[str, pl.DataFrame]:
    settings = at.settings  # the scores at the cutoff with the saved thresholds: the cells' at the sliders' defaults
    scores = _cutoff_scores(at, as_of, settings.fit.high_threshold, settings.intent.high_threshold)
    with at.opened() as con:
        return scoring.score_validation(con, settings=settings, as_of=as_of, scores=scores)


def score_validation(as_of: date) -> dict[str, pl.DataFrame]:
    return _score_validation(key(), as_of)


# ---------------------------------------------------------------------------- handoff & hygiene


@st.cache_resource(max_entries=4, show_spinner=COMPUTING)
def _handoff_passes(at: StoreKey, as_of: date) -> pl.DataFrame:
    """Every pass through MQL at D: the same for every cohort period and breakdown (a cached resource)."""
    with at.opened() as con:
        return handoff_analyses.handoff_passes(con, settings=at.settings, as_of=as_of)


@st.cache_resource(max_entries=4, show_spinner=COMPUTING)
def _handoff_rows(at: StoreKey, filters: Filters, by: str | None) -> pl.DataFrame:
    """The handoffs the review, the reasons and the lists all read (a cached resource: computed once, never
    copied), from the passes at D (read once for every breakdown and period) and the lifecycle ladder's inputs
    prepared for this breakdown alone (not held in the shared cache: at 1M leads they would hold 600 MB more
    for the little a breakdown switch saves with them)."""
    with at.opened() as con:
        prepared = inputs.analysis_inputs(con, replace(filters, ladder=LIFECYCLE), settings=at.settings, by=by)
    return handoff_analyses.handoff_rows_of(prepared, _handoff_passes(at, filters.as_of),
                                            _deal_losses(at, filters.as_of), by=by)


@st.cache_data(max_entries=32, show_spinner=COMPUTING)
def _handoff_review(at: StoreKey, filters: Filters, by: str) -> pl.DataFrame:
    rows = _handoff_rows(at, filters, by)
    with at.opened() as con:
        return handoff_analyses.handoff_review(con, settings=at.settings, filters=filters, by=by, rows=rows)


def handoff_review(filters: Filters, *, by: str) -> pl.DataFrame:
    return _handoff_review(key(), filters, by)


@st.cache_data(max_entries=32, show_spinner=COMPUTING)
def _recycle_reasons(at: StoreKey, filters: Filters, by: str | None) -> pl.DataFrame:
    rows = _handoff_rows(at, filters, by)
    with at.opened() as con:
        return handoff_analyses.recycle_reasons(con, settings=at.settings, filters=filters, rows=rows)


def recycle_reasons(filters: Filters, *, by: str | None = None) -> pl.DataFrame:
    """Why handoffs came back (the same for any `by`: pass the review's, so both read one set of rows)."""
    return _recycle_reasons(key(), filters, by)


@st.cache_resource(max_entries=64, show_spinner=COMPUTING)
def _handoff_leads(at: StoreKey, filters: Filters, kind: str, by: str | None, segment: str | None) -> pl.DataFrame:
    rows = _handoff_rows(at, filters, by)
    with at.opened() as con:
        return handoff_analyses.handoff_leads(con, settings=at.settings, filters=filters, kind=kind, by=by,
                                              segment=segment, rows=rows)


def handoff_leads(filters: Filters, *, kind: str, by: str | None, segment: str | None) -> pl.DataFrame:
    """The handoffs behind a count; with segment None, every segment's (any `by` gives the same list: pass the
    review's, so both read one set of rows)."""
    return _handoff_leads(key(), filters, kind, by, segment)


FLAG_DAYS_KEPT = 4  # days of hygiene flags kept per data version and settings (each up to ~100 MB at 1M leads)


@dataclass
class _FlagDays:
    """The hygiene flags of each day computed so far on one data version and settings, least recently used first;
    `lock` guards the dict, `computing` lets one session compute missing days while the others wait for them."""

    kept: dict[date, pl.DataFrame] = field(default_factory=dict)
    lock: Lock = field(default_factory=Lock)
    computing: Lock = field(default_factory=Lock)

    def found(self, days: tuple[date, ...]) -> dict[date, pl.DataFrame]:
        with self.lock:
            for day in days:
                if day in self.kept:
                    self.kept[day] = self.kept.pop(day)  # used now: evicted last
            return {day: self.kept[day] for day in days if day in self.kept}

    def keep(self, computed: dict[date, pl.DataFrame], days: tuple[date, ...]) -> None:
        with self.lock:
            self.kept.update(computed)
            for day in [day for day in self.kept if day not in days][:max(0, len(self.kept) - FLAG_DAYS_KEPT)]:
                del self.kept[day]


@st.cache_resource(max_entries=2, show_spinner=False)
def _flag_days(at: StoreKey) -> _FlagDays:
    """The hygiene flags kept for this data and settings (a cached resource, shared by every session)."""
    return _FlagDays()


def _hygiene_flags(at: StoreKey, as_of: date) -> dict[date, pl.DataFrame]:
    """Every exact check's flagged leads at D and at the previous month end (never copied): the reports of both
    days and the leads of a selected check at D read them. Each day is computed once (the days not yet computed
    in one pass) and kept, so moving D within a month computes D alone: the month end before it is kept. Only
    called by cached functions, whose spinner shows meanwhile."""
    days = (as_of, crm_audit_analyses.previous_month_end(as_of))
    flag_days = _flag_days(at)
    found = flag_days.found(days)
    if len(found) < len(days):
        with flag_days.computing:  # another session computing the same days: wait, then take them
            found = flag_days.found(days)
            missing = [day for day in days if day not in found]
            if missing:
                with at.opened() as con:
                    computed = hygiene_analyses.hygiene_flags(con, settings=at.settings, days=missing)
                flag_days.keep(computed, days)
                found.update(computed)
    return {day: found[day] for day in days}


@st.cache_resource(max_entries=32, show_spinner=COMPUTING)
def _hygiene_leads(at: StoreKey, as_of: date, check: str) -> pl.DataFrame:
    flags = _hygiene_flags(at, as_of)[as_of]
    with at.opened() as con:
        return hygiene_analyses.hygiene_leads(con, settings=at.settings, as_of=as_of, check=check, flags=flags)


# ------------------------------------------------------------------------ data quality and routing


@st.cache_resource(max_entries=2, show_spinner=COMPUTING)
def _capture_frame(at: StoreKey, as_of: date) -> pl.DataFrame:
    """The capture frame at D (a cached resource: every capture table and each entry point's fill rates read it,
    never copied), read from the database like the rest of the capture audit."""
    with at.database_opened() as con:
        return capture.capture_frame(con, settings=at.settings, as_of=as_of)


@st.cache_data(max_entries=8, show_spinner=COMPUTING)
def _capture_audit(at: StoreKey, as_of: date) -> capture.CaptureAudit:
    captured = _capture_frame(at, as_of)
    with at.database_opened() as con:  # the same-lead panel reads every imported version (raw.*__history)
        return capture.capture_audit(con, settings=at.settings, as_of=as_of, captured=captured)


def capture_audit(as_of: date) -> capture.CaptureAudit:
    return _capture_audit(key(), as_of)


@st.cache_data(max_entries=8, show_spinner=COMPUTING)
def _fill_rates(at: StoreKey, as_of: date, by: str) -> pl.DataFrame:
    return capture.field_fill_rates(_capture_frame(at, as_of), by=by)


def fill_rates(as_of: date, *, by: str) -> pl.DataFrame:
    """The fill rate of each field by an entry point at D: another entry point reads the same capture frame."""
    return _fill_rates(key(), as_of, by)


@st.cache_resource(max_entries=2, show_spinner=COMPUTING)
def _audit_inputs(at: StoreKey) -> records.AuditInputs:
    """The CRM audit's match records and standardisation findings, the same at every as-of date and threshold
    (a cached resource: read once per data version, never copied; stored in the lead model once it is built)."""
    with at.opened() as con:
        return records.audit_inputs(con)


@st.cache_data(max_entries=8, show_spinner=COMPUTING)
def _crm_audit(at: StoreKey, as_of: date, threshold: float, person_survivor: str) -> crm_audit_analyses.CrmAudit:
    inputs = _audit_inputs(at)
    with at.opened() as con:
        return crm_audit_analyses.crm_audit(con, as_of=as_of, threshold=threshold, person_survivor=person_survivor,
                                            inputs=inputs)


def crm_audit(as_of: date, *, threshold: float, person_survivor: str) -> crm_audit_analyses.CrmAudit:
    return _crm_audit(key(), as_of, threshold, person_survivor)


@st.cache_data(max_entries=16, show_spinner=COMPUTING)
def _hygiene_reports(at: StoreKey, as_of: date) -> dict[str, pl.DataFrame]:
    """The exact checks at D ("now") and at the previous month end ("before"), from one pass over both days;
    shared by the trend and the audited hygiene."""
    before = crm_audit_analyses.previous_month_end(as_of)
    flags = _hygiene_flags(at, as_of)
    with at.opened() as con:
        reports = hygiene_analyses.hygiene_reports(con, settings=at.settings, days=(as_of, before), flags=flags)
    return {"now": reports[as_of], "before": reports[before]}


@st.cache_data(max_entries=8, show_spinner=COMPUTING)
def _hygiene_trend(at: StoreKey, as_of: date) -> pl.DataFrame:
    reports = _hygiene_reports(at, as_of)
    with at.opened() as con:
        return crm_audit_analyses.hygiene_trend(con, settings=at.settings, as_of=as_of, **reports)


def hygiene_trend(as_of: date) -> pl.DataFrame:
    return _hygiene_trend(key(), as_of)


@st.cache_data(max_entries=8, show_spinner=COMPUTING)
def _audited_hygiene(at: StoreKey, as_of: date) -> pl.DataFrame:
    audit = _crm_audit(at, as_of, crm_audit_analyses.DEFAULT_THRESHOLD, crm_audit_analyses.DEFAULT_PERSON_SURVIVOR)
    reports = _hygiene_reports(at, as_of)
    with at.opened() as con:
        return crm_audit_analyses.audited_hygiene(con, settings=at.settings, as_of=as_of, audit=audit, **reports)


def audited_hygiene(as_of: date) -> pl.DataFrame:
    """The exact hygiene checks and the CRM audit's findings (default threshold and survivor: the same cached
    Splink run as the Data quality page at its defaults), with the trend since the previous month end."""
    return _audited_hygiene(key(), as_of)


@st.cache_resource(max_entries=16, show_spinner=COMPUTING)
def _audited_hygiene_leads(at: StoreKey, as_of: date, check: str) -> pl.DataFrame:
    audit = _crm_audit(at, as_of, crm_audit_analyses.DEFAULT_THRESHOLD, crm_audit_analyses.DEFAULT_PERSON_SURVIVOR)
    with at.opened() as con:
        return crm_audit_analyses.audited_hygiene_leads(con, as_of=as_of, audit=audit, check=check)


def hygiene_check_leads(as_of: date, *, check: str) -> pl.DataFrame:
    """The leads an `audited_hygiene` row flags: an exact check's or a CRM-audit finding's."""
    if check in crm_audit_analyses.AUDIT_CHECKS:
        return _audited_hygiene_leads(key(), as_of, check)
    return _hygiene_leads(key(), as_of, check)


@st.cache_data(max_entries=8, show_spinner=COMPUTING)
def _people_across_tools(at: StoreKey) -> tuple[pl.DataFrame, pl.DataFrame]:
    with at.database_opened() as con:  # the identity build's tables and the imported rows (raw.*) stay in the store
        return (hygiene_analyses.identity_hygiene(con, settings=at.settings),
                identity.identity_findings(con, settings=at.settings) if identity.identity_is_built(con)
                else pl.DataFrame())


@st.cache_resource(max_entries=4, show_spinner=COMPUTING)  # every lead at D: shared by every filter and segmentation
def _lead_needs(at: StoreKey, as_of: date) -> pl.DataFrame:
    with at.opened() as con:
        return capture.lead_needs(con, as_of=as_of)


@st.cache_data(max_entries=32, show_spinner=COMPUTING)
def _data_quality_sentence(at: StoreKey, filters: Filters, by: tuple[str, ...]) -> str | None:
    if (found := _counts(at, filters, by)) is not None:
        return capture.data_quality_sentence(capture.data_quality_note_of(found[1]["quality"]))
    population = _analysis(at, filters, by).population
    note = capture.data_quality_note(_lead_needs(at, filters.as_of), lead_ids=population.get_column("lead_id"))
    return capture.data_quality_sentence(note)


def data_quality_sentence(filters: Filters, by: tuple[str, ...] = ()) -> str | None:
    """What share of the leads behind a page's numbers lacked a creation date, an owner or firmographics (on
    Spark, from the engine's counts)."""
    return _data_quality_sentence(key(), filters, tuple(by))


def analysis_notes(filters: Filters, by: tuple[str, ...] = ()) -> tuple[str, ...]:
    """What the numbers rest on (the history used, what was left out); on Spark, from the engine's counts."""
    if (found := _counts(key(), filters, tuple(by))) is not None:
        return found[0].notes
    return analysis(filters, by).notes


def people_across_tools() -> tuple[pl.DataFrame, pl.DataFrame]:
    """The identity findings by kind (people missing from the CRM, conflicts) and the rows behind them."""
    return _people_across_tools(key())


@st.cache_resource(max_entries=8, show_spinner=COMPUTING)
def _fix_file(at: StoreKey, table: str, crm: str) -> pl.DataFrame:
    inputs = _audit_inputs(at)  # the CRM audit's findings of both tables, already read for the audit
    findings = inputs.lead_findings if table == "leads" else inputs.account_findings
    with at.opened() as con:
        return fix_files.fix_file(con, table=table, crm=crm, findings=findings)


def fix_file(*, table: str, crm: str) -> pl.DataFrame:
    return _fix_file(key(), table, crm)


# A cached resource, not data: its `leads` frame (every lead routed, with its fields) pickles to ~570 MB at 1M
# leads, and cache_data copied it on every rerun (most of the Routing page's 5 s rerun and of its peak).
@st.cache_resource(max_entries=4, show_spinner=COMPUTING)
def _edit_lint(at: StoreKey, routing_text: str, as_of: date) -> dict[str, pl.DataFrame]:
    unchanged = with_routing_text(at.settings, routing_text) == at.settings  # the rules in force: the shared scores
    scores = shared_lead_scores(at, as_of) if unchanged else None
    with at.opened() as con:
        return routing_analyses.edit_lint(con, settings=at.settings, routing_text=routing_text, as_of=as_of,
                                          scores=scores)


def edit_lint(*, routing_text: str, as_of: date) -> dict[str, pl.DataFrame]:
    return _edit_lint(key(), routing_text, as_of)


@st.cache_data(max_entries=4, show_spinner=COMPUTING)
def _edit_whatif(at: StoreKey, routing_text: str, as_of: date, weeks: int) -> dict[str, pl.DataFrame]:
    with at.opened() as con:
        return routing_analyses.edit_whatif(con, settings=at.settings, routing_text=routing_text, as_of=as_of,
                                            weeks=weeks)


def edit_whatif(*, routing_text: str, as_of: date, weeks: int) -> dict[str, pl.DataFrame]:
    return _edit_whatif(key(), routing_text, as_of, weeks)


@st.cache_data(max_entries=8, show_spinner=COMPUTING)
def _content_next_stage(at: StoreKey, as_of: date) -> pl.DataFrame:
    with at.opened() as con:
        return routing_analyses.content_next_stage(con, settings=at.settings, as_of=as_of)


def content_next_stage(as_of: date) -> pl.DataFrame:
    return _content_next_stage(key(), as_of)


@st.cache_data(max_entries=8, show_spinner=False)  # a scan of every activity that no as-of date changes
def _since_last_import(at: StoreKey) -> datetime | None:
    with at.opened() as con:
        return routing_analyses.since_last_import(con)


@st.cache_resource(max_entries=8, show_spinner=COMPUTING)
def _import_alerts(at: StoreKey, as_of: date, _routed: pl.DataFrame | None) -> pl.DataFrame:
    since = _since_last_import(at)
    routed = _routed if _routed is not None else shared_lead_scores(at, as_of)
    with at.opened() as con:
        return routing_analyses.import_alerts(con, settings=at.settings, as_of=as_of, since=since, routed=routed)


def import_alerts(as_of: date, *, routed: pl.DataFrame | None = None) -> pl.DataFrame:
    """The leads that newly met an alert rule with the latest import, with their owner. `routed`: the leads the
    Routing page's check of the rules in force already routed (held by that check's cache), else the shared lead
    scores at D; the alerts are the same with either, so they are not part of the cache key (a leading
    underscore: not hashed)."""
    return _import_alerts(key(), as_of, routed)


@st.cache_resource(max_entries=4, show_spinner=COMPUTING)  # every lead's names: shared, not copied per run
def _lead_names(at: StoreKey) -> pl.DataFrame:
    with at.opened() as con:
        return tool_exports.lead_names(con)


@st.cache_resource(max_entries=8, show_spinner=COMPUTING)
def _segment_export(at: StoreKey, routing_text: str, as_of: date, chosen: tuple[tuple[str, str | None], ...],
                    tool: str) -> tuple[pl.DataFrame, int]:
    leads = _edit_lint(at, routing_text, as_of)["leads"]
    return tool_exports.tool_export(tool_exports.segment_of(leads, dict(chosen)), _lead_names(at), tool=tool)


def segment_export(*, routing_text: str, as_of: date, chosen: dict[str, str | None],
                   tool: str) -> tuple[pl.DataFrame, int]:
    """The routed leads of the chosen rule, team and track (None: any) in `tool`'s import columns, and how many
    were left out for lack of an e-mail; computed once per choice, not on every run of the Routing page."""
    return _segment_export(key(), routing_text, as_of, tuple(sorted(chosen.items())), tool)
