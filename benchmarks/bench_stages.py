"""Funnel stages (and scores) for 1M leads / 10M activities: median time and peak memory, against
plain DuckDB scans of the same activities in the same run.

    .venv/bin/python benchmarks/bench_stages.py [--leads 1000000] [--repeat 3] [--json PATH]

The store is generated once with `funnel.ingest.sample.write_sample` (Parquet, seed 7) and loaded into a
DuckDB file under benchmarks/.cache (git-ignored by a `.gitignore` the cache writes for itself).
Every measurement runs in a fresh Python process opening the store read-only, so peak RSS is that
step's own (DuckDB included). Targets: funnel_history ≤ 10 s and ≤ 4 GB.

Wall time depends on what else the machine runs; CPU seconds (all threads) are shown beside it.

Steps:
- scan: a plain DuckDB aggregate over every activity (count per type, distinct leads, newest time);
- sorted scan: every activity sorted by lead and time and fetched (the floor of any per-lead pass);
- stages: `funnel_history` + `current_funnel_stage` as of the newest day;
- scores: `lead_scores` (fit, intent, tags, quadrant, next action; includes the stages).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
CACHE = ROOT / ".cache"
REPO = ROOT.parent
TARGET_SECONDS, TARGET_MB = 10.0, 4096.0


def cached_store(leads: int, *, seed: int = 7) -> Path:
    """The DuckDB file holding the sample for `leads` leads (generated and loaded on first use)."""
    sys.path.insert(0, str(REPO))
    import polars as pl

    from funnel.ingest.sample import write_sample
    from funnel.schema import IMPORT_ID, SOURCE_ROW, TABLES
    from funnel.store import db

    CACHE.mkdir(parents=True, exist_ok=True)
    ignore = CACHE / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n", encoding="utf-8")
    store = CACHE / f"sample-{leads}-{seed}.duckdb"
    if store.exists():
        return store
    folder = CACHE / f"sample-{leads}-{seed}"
    if not (folder / "activities.parquet").exists():
        write_sample(folder, leads=leads, seed=seed, fmt="parquet")
    partial = store.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    con = db.connect(partial)
    try:
        for name, spec in TABLES.items():
            path = folder / f"{name}.parquet"
            if not path.exists():
                continue
            frame = pl.read_parquet(path)
            frame = frame.select([pl.col(c) if c in frame.columns else pl.lit(None, dtype=spec.column(c).dtype).alias(c)
                                  for c in spec.column_names]).with_columns(
                pl.lit(0, dtype=pl.Int64).alias(IMPORT_ID), pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(SOURCE_ROW))
            con.register("_bench_incoming", frame.to_arrow())
            columns = ", ".join(db.quote_ident(c) for c in frame.columns)
            con.execute(f"INSERT INTO {db.quote_ident(name)} ({columns}) SELECT {columns} FROM _bench_incoming").fetchall()
            con.unregister("_bench_incoming")
        con.execute("CHECKPOINT").fetchall()
    finally:
        con.close()
    partial.rename(store)
    return store


PRELUDE = """
import json, resource, sys, time
sys.path.insert(0, {repo!r})
from datetime import datetime
from funnel.store import db
from funnel.model import stages
from funnel.model import scoring
from funnel.config import default_settings
from funnel.store.inventory import newest_timestamp
con = db.connect({store!r}, read_only=True)
settings = default_settings()
as_of = newest_timestamp(con).date()
usage = resource.getrusage(resource.RUSAGE_SELF)
start = time.perf_counter()
"""

STEPS = {
    "scan": """
rows = db.first_row(con, "SELECT count(*), count(DISTINCT lead_id), max(occurred_at) FROM activities")
types = db.frame(con, "SELECT activity_type, count(*) AS n FROM activities GROUP BY 1")
out = {'rows': rows[0], 'leads': rows[1]}
""",
    "sorted scan": """
table = db.arrow_table(con, "SELECT lead_id, activity_id, activity_type, occurred_at FROM activities "
                            "ORDER BY lead_id, occurred_at, activity_id")
out = {'rows': table.num_rows}
""",
    "stages": """
history = stages.funnel_history(con, settings=settings, as_of=as_of)
current = stages.current_funnel_stage(history, as_of=as_of, settings=settings)
out = {'entries': history.height, 'leads': current.height,
       'by_stage': dict(current.group_by('funnel_stage').len().sort('funnel_stage').iter_rows())}
""",
    "scores": """
scores = scoring.lead_scores(con, settings=settings, as_of=as_of)
out = {'leads': scores.height, 'quadrants': dict(scores.group_by('quadrant').len().sort('quadrant').iter_rows())}
""",
}

EPILOGUE = """
wall = time.perf_counter() - start
now = resource.getrusage(resource.RUSAGE_SELF)
cpu = now.ru_utime - usage.ru_utime + now.ru_stime - usage.ru_stime
# VmHWM: this process's own peak (ru_maxrss can carry the parent's size across fork and exec)
peak = next(int(line.split()[1]) for line in open('/proc/self/status') if line.startswith('VmHWM')) / 1024
print(json.dumps({'wall': wall, 'cpu': cpu, 'peak_mb': peak, **out}, default=str))
"""


def measure(store: Path, step: str, *, repeat: int) -> dict:
    """Median wall seconds (of the step alone, after imports and connecting) and max peak RSS."""
    code = PRELUDE.format(repo=str(REPO), store=str(store)) + STEPS[step] + EPILOGUE
    runs = []
    for _ in range(repeat):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{step} failed:\n{done.stderr[-3000:]}")
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    result = dict(runs[-1])
    result.update(step=step, wall=statistics.median(r["wall"] for r in runs), walls=[r["wall"] for r in runs],
                  cpu=statistics.median(r["cpu"] for r in runs), peak_mb=max(r["peak_mb"] for r in runs))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--steps", default=",".join(STEPS), help="comma-separated: " + ", ".join(STEPS))
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    args = parser.parse_args()
    started = time.perf_counter()
    store = cached_store(args.leads)
    print(f"store: {store} ({store.stat().st_size / 1e6:.0f} MB; ready in {time.perf_counter() - started:.1f}s)")
    print(f"cpus: {os.cpu_count()}, load average before: {', '.join(f'{x:.1f}' for x in os.getloadavg())}, "
          f"DuckDB memory limit: {os.environ.get('FUNNEL_DUCKDB_MEMORY', '3GB (default)')}")
    results = []
    print(f"{'step':<12} {'median s':>9} {'runs':<24} {'cpu s':>6} {'peak MB':>8}  result")
    for step in args.steps.split(","):
        r = measure(store, step.strip(), repeat=args.repeat)
        results.append(r)
        detail = {k: v for k, v in r.items() if k not in ("step", "wall", "walls", "cpu", "peak_mb")}
        runs = ", ".join(f"{w:.2f}" for w in r["walls"])
        print(f"{r['step']:<12} {r['wall']:>9.2f} {runs:<24} {r['cpu']:>6.1f} {r['peak_mb']:>8.0f}  "
              f"{json.dumps(detail, default=str)[:120]}")
    by = {r["step"]: r for r in results}
    if "stages" in by:
        s = by["stages"]
        verdict = "meets" if s["wall"] <= TARGET_SECONDS and s["peak_mb"] <= TARGET_MB else "MISSES"
        base = by.get("scan", {}).get("wall")
        ratio = f"; {s['wall'] / base:.1f}× the plain scan" if base else ""
        print(f"stages: {s['wall']:.2f} s, {s['peak_mb']:.0f} MB peak: {verdict} the target "
              f"(≤ {TARGET_SECONDS:g} s, ≤ {TARGET_MB:g} MB){ratio}")
    print(f"load average after: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if args.json:
        args.json.write_text(json.dumps({"leads": args.leads, "results": results}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
