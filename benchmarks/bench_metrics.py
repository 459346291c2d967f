"""Speed and memory of the core analyses at 100k and 1M leads (a plain script: prints a table).

    .venv/bin/python benchmarks/bench_metrics.py [--leads 100000 1000000] [--repeat 5]

For each size, the canonical sample (`funnel.ingest.sample.write_sample`, about 10 activities per lead) is
generated once into benchmarks/.cache (as CSV, shared with the other benchmarks) and imported with
`funnel.ingest.importer` into a DuckDB store there.
Then, in the same run:

* baselines — plain DuckDB scans of the same store (count and newest timestamp of the activities,
  the stage log read into Arrow, the latest entry per lead);
* each metric family — cold (a fresh process: open the store, compute once; median of the runs) and
  warm (in this process after one warm-up; median of the runs), each the public function a page
  calls, so the history and the lead population are rebuilt every time;
* the whole `funnel metrics` process (JSON; also with --by source), wall time and peak RSS.

Times are medians in seconds; "cold cpu" is the fresh process's own user + system CPU time (steady
when the machine is busy, unlike wall time); "warm × scan" divides by the stage-log scan into
Arrow, the least any stage analysis must do. Peak RSS is the fresh process's own high-water mark.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / ".cache"
TABLE_ORDER = ("accounts", "leads", "stage_events", "deals", "activities")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import median_seconds, sample_dir

FAMILIES = {
    "distribution": "stage_distribution(con, f, settings=s)",
    "conversion": "stage_conversion(con, f, settings=s)",
    "aging": "stage_aging(con, f, settings=s)",
    "segments": "segment_performance(con, f, settings=s)",
    "segments by source": "segment_performance(con, f, settings=s, by='source')",
    "trend": "distribution_trend(con, f, settings=s)",
    "all four (report)": "metrics_report(con, f, settings=s)",
}
BASELINES = {
    "activities count+max": "SELECT count(*), max(occurred_at) FROM activities",
    "stage log → Arrow": "SELECT lead_id, stage, entered_at, reason FROM stage_events",
    "latest entry per lead": "SELECT lead_id, arg_max(stage, entered_at) FROM stage_events GROUP BY lead_id",
}
SETUP = """
import sys
sys.path.insert(0, {root!r})
from datetime import date
from funnel.analyses import *
from funnel.analyses.report import metrics_report
from funnel.config import default_settings
from funnel.store.db import connect
from funnel.filters import Filters
s = default_settings()
con = connect({db!r}, read_only=True)
f = Filters(as_of=date.fromisoformat({as_of!r}))
"""


def store_for(leads: int) -> Path:
    """The DuckDB store of the `leads`-lead sample: generated and imported once, then reused."""
    sys.path.insert(0, str(ROOT))
    from funnel.ingest.importer import prepare_import, write_import
    from funnel.model.identity import rebuild_identity
    from funnel.store.db import connect

    CACHE.mkdir(parents=True, exist_ok=True)
    (CACHE / ".gitignore").write_text("*\n")  # the cache never reaches the repository
    db = CACHE / f"funnel-{leads}.duckdb"
    done = CACHE / f"funnel-{leads}.complete"
    if db.exists() and done.exists():
        return db
    print(f"preparing {leads:,} leads (once; cached in {CACHE.relative_to(ROOT)}) …", flush=True)
    start = time.perf_counter()
    # The CSVs shared with the other benchmarks: the generated Parquet file of 10M activities declares more than
    # the importer's 1 GiB decoded-size cap, so a 1M-lead store cannot be imported from it.
    folder = sample_dir(leads)
    paths = {table: folder / f"{table}.csv" for table in TABLE_ORDER}
    for stale in (db, db.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)
    con = connect(db)
    try:
        for table in TABLE_ORDER:
            write_import(con, prepare_import(paths[table], table=table))
        rebuild_identity(con)
    finally:
        con.close()
    done.write_text("ok\n")
    print(f"  prepared in {time.perf_counter() - start:.0f} s", flush=True)
    return db


def median_of(fn: Callable[[], object], repeat: int) -> float:
    return median_seconds(fn, repeat=repeat)


# Peak RSS of the child itself: VmHWM is per process image (ru_maxrss would carry the parent's over
# from the fork); CPU seconds (user + system) are the child's own and hardly move with machine load.
REPORT = """
import json, resource
usage = resource.getrusage(resource.RUSAGE_SELF)
hwm = next(int(line.split()[1]) for line in open('/proc/self/status') if line.startswith('VmHWM:'))
print(json.dumps({'rss': hwm / 1024, 'cpu': usage.ru_utime + usage.ru_stime}))
"""


def child(code: str) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of a fresh Python process running `code`."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code + REPORT], capture_output=True, text=True, check=True,
                         cwd=ROOT)
    wall = time.perf_counter() - start
    measured = json.loads(out.stdout.strip().splitlines()[-1])
    return wall, measured["cpu"], measured["rss"]


def medians(runs: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs), max(r[2] for r in runs))


def cold(db: Path, as_of: date, call: str, repeat: int) -> tuple[float, float, float]:
    """A fresh process computing `call` once (imports and opening the store included)."""
    setup = SETUP.format(root=str(ROOT), db=str(db), as_of=as_of.isoformat())
    return medians([child(setup + f"\n{call}\n") for _ in range(repeat)])


def whole_process(db: Path, args: list[str], repeat: int) -> tuple[float, float, float]:
    """The `funnel metrics` command (output discarded)."""
    entry = ("import sys, io, contextlib\nsys.argv = ['funnel'] + {args!r}\n"
             "from funnel.cli.main import main\nwith contextlib.redirect_stdout(io.StringIO()):\n    code = main()\n"
             "assert code == 0").format(args=["metrics", "--db", str(db), *args])
    return medians([child(entry) for _ in range(repeat)])


Row = tuple[str, float | None, float | None, float, float | None]


def bench(leads: int, repeat: int) -> list[Row]:
    """(what, cold seconds, cold CPU seconds, warm seconds, peak RSS MB) rows for one size."""
    sys.path.insert(0, str(ROOT))
    from funnel.model.history import newest_day
    from funnel.store.db import connect, first_row

    db = store_for(leads)
    con = connect(db, read_only=True)
    as_of = newest_day(con)
    rows: list[Row] = []
    for name, sql in BASELINES.items():
        con.sql(sql).to_arrow_table()
        rows.append((f"scan: {name}", None, None, median_of(lambda sql=sql: con.sql(sql).to_arrow_table(), repeat),
                     None))
    counts = first_row(con, "SELECT (SELECT count(*) FROM leads), (SELECT count(*) FROM activities), "
                            "(SELECT count(*) FROM stage_events)")
    con.close()

    from funnel import analyses
    from funnel.analyses.report import metrics_report
    from funnel.config import default_settings
    from funnel.filters import Filters

    functions = {"metrics_report": metrics_report} | {n: getattr(analyses, n) for n in analyses.__all__}
    settings, filters = default_settings(), Filters(as_of=as_of)
    con = connect(db, read_only=True)
    for name, call in FAMILIES.items():
        function, _, rest = call.partition("(")
        by = "source" if "by='source'" in rest else None
        run = (lambda fn=functions[function], by=by:
               fn(con, filters, settings=settings, **({"by": by} if by else {})))
        run()  # warm-up
        warm = median_of(run, repeat)
        cold_s, cpu, rss = cold(db, as_of, call, repeat)
        rows.append((name, cold_s, cpu, warm, rss))
    con.close()
    for label, args in (("funnel metrics (JSON)", []), ("funnel metrics --by source", ["--by", "source"])):
        wall, cpu, rss = whole_process(db, args, repeat)
        rows.append((f"process: {label}", wall, cpu, None, rss))
    print(f"\n{leads:,} leads · {counts[1]:,} activities · {counts[2]:,} stage events · as of {as_of} "
          f"· medians of {repeat}")
    return rows


def report(rows: list[Row]) -> None:
    scan = next(r[3] for r in rows if r[0] == "scan: stage log → Arrow")

    def cell(value: float | None, width: int, digits: int = 3) -> str:
        return f"{value:{width}.{digits}f}" if value is not None else " " * width

    print(f"{'':36} {'cold s':>7} {'cold cpu':>8} {'warm s':>7} {'warm × scan':>11} {'peak RSS MB':>11}")
    for what, cold_s, cpu, warm, rss in rows:
        ratio = None if warm is None else warm / scan
        print(f"{what:36} {cell(cold_s, 7)} {cell(cpu, 8, 2)} {cell(warm, 7)} {cell(ratio, 11, 1)} "
              f"{cell(rss, 11, 0)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for leads in args.leads:
        report(bench(leads, args.repeat))
    print(f"\nthis process: peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
