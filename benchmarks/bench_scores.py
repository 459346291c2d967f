"""First-render computations of the Fit × intent and Handoff & hygiene pages, on a large store.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_scores.py DB_PATH [--build] [--profile]

Calls the cached functions the two pages call (pages/ui/cache.py), cold, one after the other, in this
process, at the default as-of date (the newest day in the data) and the default filters; prints each
one's wall and CPU seconds (the process's own, all threads: steadier than wall time on a busy machine)
and each page's sum. `--build` first builds what the lead model lacks for the saved
settings (and prints how long that took); `--profile` prints the top of a cProfile of the whole run.
The code measured is the `funnel` and `pages` on PYTHONPATH, so another checkout's code (say, before a
change) can be timed on the same store in the same session.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("db", type=Path)
    parser.add_argument("--build", action="store_true", help="build what the lead model lacks first")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    logging.getLogger("streamlit").setLevel(logging.ERROR)

    from funnel.filters import Filters
    from funnel.model.build import ensure_model
    from funnel.model.history import newest_day
    from funnel.store.db import connect
    from funnel.store.status import data_version, saved_settings_text
    from pages.ui import cache
    from pages.ui.store import StoreKey, settings_for

    if args.build:
        con = connect(args.db)
        try:
            start = time.perf_counter()
            ensure_model(con, settings=settings_for(saved_settings_text(con)))
            print(f"  lead model built in {time.perf_counter() - start:.2f} s", flush=True)
        finally:
            con.close()
    con = connect(args.db, read_only=True)
    try:
        as_of = newest_day(con)
        at = StoreKey(str(args.db.resolve()), data_version(con), saved_settings_text(con))
    finally:
        con.close()
    assert as_of is not None, "the store is empty"
    filters = Filters(as_of=as_of)
    settings = at.settings
    fit, intent = float(settings.fit.high_threshold), float(settings.intent.high_threshold)
    pages: dict[str, list[tuple[str, Callable[[], object]]]] = {
        "Fit × intent": [
            ("matrix_cells", lambda: cache._matrix_cells(at, as_of, fit, intent)),
            ("fit_data_note", lambda: cache._fit_data_note(at, as_of)),
            ("work_queue (SDR)", lambda: cache._work_queue(at, as_of, "SDR queue", fit, intent)),
            ("score_validation", lambda: cache._score_validation(at, as_of)),
        ],
        "Handoff & hygiene": [
            ("handoff_review", lambda: cache._handoff_review(at, filters, "source")),
            ("recycle_reasons", lambda: cache._recycle_reasons(at, filters)),
            ("audited_hygiene", lambda: cache._audited_hygiene(at, as_of)),
        ],
    }
    profiler = cProfile.Profile() if args.profile else None
    print(f"{args.db.name} as of {as_of}, code from {Path(cache.__file__).parents[2]}")
    print(f"  {'page':<18} {'computation':<18} {'wall s':>7} {'cpu s':>7}")
    for page, calls in pages.items():
        wall = cpu = 0.0
        for name, call in calls:
            start, start_cpu = time.perf_counter(), time.process_time()
            if profiler:
                profiler.enable()
            call()
            if profiler:
                profiler.disable()
            seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu
            wall, cpu = wall + seconds, cpu + cpu_seconds
            print(f"  {page:<18} {name:<18} {seconds:>7.2f} {cpu_seconds:>7.2f}", flush=True)
        print(f"  {page:<18} {'first render':<18} {wall:>7.2f} {cpu:>7.2f}", flush=True)
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
    return 0


if __name__ == "__main__":
    sys.exit(main())
