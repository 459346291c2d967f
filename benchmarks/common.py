"""Shared benchmark plumbing: cached generated data, timing with medians, peak memory of a child process."""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"


SHARD_LEADS = 1_000_000  # leads per generated part: each part's files stay within the importer's 1 GiB per file
ID_COLUMNS = ("lead_id", "account_id", "activity_id", "deal_id")
TABLE_NAMES = ("accounts", "leads", "stage_events", "deals", "activities")


def sample_dir(leads: int) -> Path:
    """Canonical CSVs for `leads` leads (about 10 activities each), generated once and cached: one
    `<table>.csv` each up to SHARD_LEADS leads, else parts `<table>-NN.csv` (see `write_parts`)."""
    from funnel.ingest.sample import write_sample

    out = CACHE / f"sample_{leads}"
    if leads <= SHARD_LEADS:
        if not (out / "activities.csv").exists():
            write_sample(out, leads=leads)
    elif not (out / "complete").exists():
        write_parts(out, leads=leads)
    return out


def sample_files(leads: int) -> dict[str, list[Path]]:
    """Every generated CSV of the `leads`-lead sample, by table (one file each, or its parts in order)."""
    folder = sample_dir(leads)
    return {table: sorted(folder.glob(f"{table}.csv")) or sorted(folder.glob(f"{table}-*.csv"))
            for table in TABLE_NAMES}


def write_parts(out: Path, *, leads: int) -> None:
    """The sample as parts of at most SHARD_LEADS leads, so no file passes the importer's limits (1 GiB, 20M rows)
    and the generator never holds more than one part in memory (about 2.4 GB). Part k is the generator's
    sample with seed 7 + k and every id prefixed `Pkk-`, so parts never share a lead, account, deal or activity;
    owners and e-mail domains may repeat across parts, as in one real CRM."""
    import polars as pl

    from funnel.ingest.sample import sample_tables

    out.mkdir(parents=True, exist_ok=True)
    parts = -(-leads // SHARD_LEADS)
    for k in range(parts):
        size = min(SHARD_LEADS, leads - k * SHARD_LEADS)
        for table, frame in sample_tables(leads=size, seed=7 + k).items():
            prefixed = [pl.concat_str(pl.lit(f"P{k:02d}-"), pl.col(c)).alias(c) for c in ID_COLUMNS
                        if c in frame.columns]
            frame.with_columns(prefixed).write_csv(out / f"{table}-{k:02d}.csv",
                                                   datetime_format="%Y-%m-%d %H:%M:%S")
        print(f"  part {k + 1} of {parts} written", flush=True)
    (out / "complete").write_text("ok\n")


def median_seconds(fn: Callable[[], object], *, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


PEAK_SELF = """def peak_self_mb():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            return int(line.split()[1]) / 1024
    return 0.0"""


def child(code: str, *, repeat: int = 1) -> tuple[float, float]:
    """Median wall seconds and max peak RSS (MB) of running `code` in a fresh Python process."""
    walls, peaks = [], []
    for _ in range(repeat):
        wrapper = (f"import resource, time, json\n{PEAK_SELF}\nstart = time.perf_counter()\n{code}\n"
                   "print(json.dumps({'wall': time.perf_counter() - start, "
                   "'rss': peak_self_mb(), "
                   "'children': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))")
        out = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True, check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        walls.append(result["wall"])
        peaks.append(max(result["rss"], result["children"]))
    return statistics.median(walls), max(peaks)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
