"""Building the lead model: after every import or removal, and whenever the settings that shape it change.

`rebuild_model` is what a write runs: the identity model (who is who, the resolved tables), then the parts
kept in the file (funnel.model.materialised). `ensure_model` builds only what is not current for the
settings in force (after a settings version is saved, or on a store built before the model existed).
Progress goes to `progress(step, share done)` when given.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import duckdb
import polars as pl

from funnel.config import Settings
from funnel.engine import is_spark
from funnel.errors import ConfigError
from funnel.model import history, materialised, records, scoring, stages
from funnel.model.identity import rebuild_identity
from funnel.schema import ACTIVITIES
from funnel.store.db import quote_ident, scalar

__all__ = ["Progress", "build_funnel_entries", "build_scoring_parts", "ensure_model", "rebuild_model"]

Progress = Callable[[str, float], None]
ROWS_PER_BUCKET = 12_000_000  # activities per run of the funnel engine in a build: 3–4 GB of its memory at most


def _quiet(step: str, done: float) -> None:
    del step, done


def build_funnel_entries(con: duckdb.DuckDBPyConnection, *, settings: Settings, progress: Progress | None = None,
                         rows_per_bucket: int = ROWS_PER_BUCKET) -> int:
    """The funnel engine run once over all the data (to HORIZON) and stored; returns the number of entries.
    It runs bucket by bucket of leads (about `rows_per_bucket` activities each), so its memory stays bounded
    however many leads there are."""
    report = progress or _quiet
    activities = scalar(con, f"SELECT count(*) FROM {quote_ident(ACTIVITIES.name)}") or 0
    count = max(1, math.ceil(activities / rows_per_bucket))

    def batches() -> Iterator[pl.DataFrame]:
        types = tuple(stages.activity_types(con, materialised.HORIZON)) if count > 1 else None  # read once
        for index in range(count):
            report(f"Placing every lead on the funnel ladder ({index + 1} of {count})", 0.2 + 0.8 * index / count)
            yield stages.computed_funnel_history(
                con, settings=settings, as_of=materialised.HORIZON,
                lead_ids=None if count == 1 else stages.LeadBucket(index, count, types))

    return materialised.write_funnel_entries(con, batches(), settings=settings)


def build_scoring_parts(con: duckdb.DuckDBPyConnection, *, settings: Settings, progress: Progress | None = None) -> bool:
    """What scoring at any D reads stored, each part built when not current: the lead facts (fit, tags and
    the fields routing tests: the same at every D) and the inputs of intent (activities per lead, type and
    day; surge days). Facts whose criteria test a field leads do not have are not stored (scoring then
    computes from the tables and says what is wrong). Whether anything was built."""
    report = progress or _quiet
    built = False
    if not materialised.intent_inputs_are_current(con):
        report("Counting each lead's buying signals per day", 0.9)
        materialised.write_intent_inputs(con)
        built = True
    if not materialised.scoring_facts_is_current(con, settings):
        report("Scoring each lead's fit", 0.95)
        try:
            facts = scoring.scored_facts(scoring.lead_fields(con, settings=settings), settings=settings)
        except ConfigError:
            return built
        materialised.write_scoring_facts(con, facts, settings=settings)
        built = True
    return built


def ensure_model(con: duckdb.DuckDBPyConnection, *, settings: Settings, progress: Progress | None = None) -> bool:
    """Every part of the lead model current for `settings`, building what is not; whether anything was built."""
    if is_spark(con):
        return False
    report = progress or _quiet
    built = False
    if not materialised.identity_is_current(con, settings):
        report("Matching people across tools", 0.1)
        rebuild_identity(con, settings=settings)
        built = True
    if not materialised.funnel_is_current(con, settings):
        build_funnel_entries(con, settings=settings, progress=report)
        built = True
    if not materialised.lifecycle_is_current(con, settings):
        report("Placing every lead on the lifecycle ladder", 0.85)
        materialised.write_lifecycle_entries(con, settings=settings,
                                             params=history.lifecycle_params(settings, as_of=materialised.HORIZON))
        built = True
    if not materialised.table_spans_are_current(con):
        materialised.write_table_spans(con)
        built = True
    if not materialised.first_touches_are_current(con):
        report("Finding each lead's first campaign and page", 0.88)
        materialised.write_first_touches(con)
        built = True
    if not materialised.form_touches_are_current(con):
        report("Finding each lead's first submission and view of each form", 0.885)
        materialised.write_form_touches(con)
        built = True
    if not materialised.content_views_are_current(con, settings):
        report("Finding each stay's first view of each content type", 0.887)
        materialised.write_content_views(con, settings=settings)
        built = True
    if not materialised.audit_records_are_current(con):
        report("Reading every lead's and account's match keys", 0.89)
        materialised.write_audit_records(con, records.computed_audit_records(con))
        built = True
    built = build_scoring_parts(con, settings=settings, progress=report) or built
    if not materialised.engagement_days_are_current(con, settings):  # after the intent inputs: it reads their days
        report("Finding each lead's days of meaningful engagement", 0.97)
        materialised.write_engagement_days(con, settings=settings)
        built = True
    report("The lead model is ready", 1.0)
    return built


def rebuild_model(con: duckdb.DuckDBPyConnection, *, settings: Settings, progress: Progress | None = None) -> None:
    """The whole lead model rebuilt from the imported rows: identity first, then every stored part."""
    report = progress or _quiet
    report("Matching people across tools", 0.1)
    rebuild_identity(con, settings=settings)
    ensure_model(con, settings=settings, progress=report)
