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


def sample_dir(leads: int) -> Path:
    """Canonical CSVs for `leads` leads (about 10 activities each), generated once and cached."""
    from funnel.ingest.sample import write_sample

    out = CACHE / f"sample_{leads}"
    if not (out / "activities.csv").exists():
        write_sample(out, leads=leads)
    return out


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
