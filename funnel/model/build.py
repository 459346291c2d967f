"""Building the lead model: after every import or removal, and whenever the settings that shape it change.

`rebuild_model` is what a write runs: the identity model (who is who, the resolved tables), then the parts
kept in the file (funnel.model.materialised). `ensure_model` builds only what is not current for the
settings in force (after a settings version is saved, or on a store built before the model existed).
Progress goes to `progress(step, share done)` when given.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import duckdb

from funnel.config import Settings
from funnel.engine import is_spark
from funnel.model import materialised, stages
from funnel.model.identity import rebuild_identity

__all__ = ["Progress", "build_funnel_entries", "ensure_model", "rebuild_model"]

Progress = Callable[[str, float], None]


def _quiet(step: str, done: float) -> None:
    del step, done


def build_funnel_entries(con: duckdb.DuckDBPyConnection, *, settings: Settings) -> int:
    """The funnel engine run once over all the data (to HORIZON) and stored; returns the number of entries."""
    started = time.perf_counter()
    entries = stages.computed_funnel_history(con, settings=settings, as_of=materialised.HORIZON)
    materialised.write_funnel_entries(con, entries, settings=settings, seconds=time.perf_counter() - started)
    return entries.height


def ensure_model(con: duckdb.DuckDBPyConnection, *, settings: Settings, progress: Progress | None = None) -> bool:
    """Every part of the lead model current for `settings`, building what is not; whether anything was built."""
    if is_spark(con):
        return False
    report = progress or _quiet
    built = False
    if not materialised.funnel_is_current(con, settings):
        report("Placing every lead on the funnel ladder", 0.5)
        build_funnel_entries(con, settings=settings)
        built = True
    report("The lead model is ready", 1.0)
    return built


def rebuild_model(con: duckdb.DuckDBPyConnection, *, settings: Settings, progress: Progress | None = None) -> None:
    """The whole lead model rebuilt from the imported rows: identity first, then every stored part."""
    report = progress or _quiet
    report("Matching people across tools", 0.1)
    rebuild_identity(con, settings=settings)
    ensure_model(con, settings=settings, progress=report)
