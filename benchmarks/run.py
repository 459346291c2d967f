"""`make bench`: every benchmark, each against a plain DuckDB baseline measured in the same run.

Imports (funnel import vs DuckDB's read_csv), the core analyses and the `funnel metrics` process,
and the funnel-stage engine with scoring, at 100k and 1M leads of the generated sample (about ten
activities per lead). Generated data is cached in benchmarks/.cache. Set BENCH_LEADS to change sizes,
e.g. BENCH_LEADS="100000" for a quick run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    sizes = os.environ.get("BENCH_LEADS", "100000 1000000").split()
    steps = [
        ("imports", [sys.executable, str(HERE / "bench_import.py"), *sizes]),
        ("core analyses and funnel metrics", [sys.executable, str(HERE / "bench_metrics.py"), "--leads", *sizes]),
        *[(f"stage engine and scores at {n} leads", [sys.executable, str(HERE / "bench_stages.py"), "--leads", n])
          for n in sizes],
    ]
    failed = 0
    for title, command in steps:
        print(f"\n== {title}", flush=True)
        failed += subprocess.run(command, check=False).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
