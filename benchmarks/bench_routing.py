"""Speed of routing at scale: the routed leads (scores + rules), the rule lint, the what-if of an edit
(weeks replayed under both settings), content followed by the next stage, and the import alerts.

    .venv/bin/python benchmarks/bench_routing.py [--leads 100000] [--weeks 13]

Uses the cached generated store of bench_stages (about ten activities per lead). Each step runs once in
this process after the store is opened (wall seconds, and the process's peak RSS after the step)."""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from bench_stages import cached_store


def step(name: str, fn):
    """`fn()` timed: prints wall seconds and the process's peak RSS so far; returns the result."""
    start = time.perf_counter()
    result = fn()
    wall = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  {name:<44} {wall:8.2f} s   peak RSS {rss:8.0f} MB", flush=True)
    return result


def bench(leads: int, *, weeks: int) -> None:
    from funnel.analyses.routing import (
        content_next_stage,
        import_alerts,
        routing_inputs,
        routing_lint,
        routing_whatif,
    )
    from funnel.config import default_routing_text, default_settings, with_routing_text
    from funnel.model.history import newest_day
    from funnel.store.db import connect

    settings = default_settings()
    proposed = with_routing_text(settings, default_routing_text().replace("capacity = 80", "capacity = 40"))
    con = connect(cached_store(leads), read_only=True)
    try:
        as_of = newest_day(con)
        print(f"\n{leads:,} leads, as of {as_of}")
        routed = step("routed leads (scores + routing)", lambda: routing_inputs(con, settings=settings, as_of=as_of))
        lint = step("rule lint (on the routed leads)", lambda: routing_lint(routed, settings=settings))
        step("lint of an edit (route again + lint)",
             lambda: routing_lint(routing_inputs(con, settings=proposed, as_of=as_of), settings=proposed))
        step(f"what-if, {weeks} weeks × 2 settings",
             lambda: routing_whatif(con, current=settings, proposed=proposed, as_of=as_of, weeks=weeks))
        step("content followed by the next stage", lambda: content_next_stage(con, settings=settings, as_of=as_of))
        step("alerts (everything since the start)",
             lambda: import_alerts(con, settings=settings, as_of=as_of, since=None))
        print(f"  findings: {lint['findings'].height}, leads behind them: {lint['finding_leads'].height:,}")
    finally:
        con.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, nargs="+", default=[100_000])
    parser.add_argument("--weeks", type=int, default=13)
    args = parser.parse_args()
    for leads in args.leads:
        bench(leads, weeks=args.weeks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
