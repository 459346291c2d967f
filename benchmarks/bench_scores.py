"""First-render computations of the Fit × intent and Handoff & hygiene pages, on a large store.

    .venv/bin/python benchmarks/bench_scores.py DB_PATH [--table-path] [--profile]

Calls the cached functions the two pages call (pages/ui/cache.py), cold, one after the other, in this
process, at the default as-of date (the newest day in the data) and the default filters; prints each
one's wall seconds and each page's sum. `--table-path` computes from the tables, as when the lead
model holds no current scoring part (the model's scoring parts are hidden for the run), so both paths
can be timed in one run; `--profile` prints the top of a cProfile of the whole run.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("db", type=Path)
    parser.add_argument("--table-path", action="store_true", help="compute from the tables, not the model")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    logging.getLogger("streamlit").setLevel(logging.ERROR)

    from funnel.filters import Filters
    from funnel.model import materialised
    from funnel.model.history import newest_day
    from funnel.store.db import connect
    from funnel.store.status import data_version, saved_settings_text
    from pages.ui import cache
    from pages.ui.store import StoreKey

    con = connect(args.db, read_only=True)
    try:
        as_of = newest_day(con)
        at = StoreKey(str(args.db.resolve()), data_version(con), saved_settings_text(con))
    finally:
        con.close()
    assert as_of is not None, "the store is empty"
    if args.table_path:
        materialised.SCORING_PARTS_READ = False
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
    print(f"{args.db.name} as of {as_of} ({'tables' if args.table_path else 'model'})")
    for page, calls in pages.items():
        total = 0.0
        for name, call in calls:
            start = time.perf_counter()
            if profiler:
                profiler.enable()
            call()
            if profiler:
                profiler.disable()
            seconds = time.perf_counter() - start
            total += seconds
            print(f"  {page:<18} {name:<18} {seconds:>7.2f} s", flush=True)
        print(f"  {page:<18} {'first render':<18} {total:>7.2f} s", flush=True)
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
    return 0


if __name__ == "__main__":
    sys.exit(main())
