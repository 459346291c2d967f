"""`funnel metrics` on DuckDB and on a local Spark session, same data, same answers (a plain script).

    .venv/bin/python benchmarks/bench_spark.py [--leads 1000000] [--master local[2]]

For each size the sample store of side_by_side.py (imported once with `funnel import`, so its lead model is
built; cached in benchmarks/.cache) is written as Parquet with `funnel export-tables`, the lead model's tables
with it; then `funnel metrics` runs as a whole process on each engine, for the lifecycle ladder, the funnel
ladder, and the funnel ladder by source. On Spark the report's counts are taken inside the tasks, per bucket of
leads, and only they come back (funnel.analyses.partials), so the local driver keeps its default memory (1g).
Wall seconds include the process start, and for Spark the JVM and session start. Each pair of outputs is
checked byte for byte. One small machine running Spark in local mode is slower than DuckDB; the figures show by
how much, not what a cluster does (see README "Running on Spark").
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from side_by_side import CACHE, model_store

CASES = {"lifecycle": ["--ladder", "lifecycle"], "funnel": ["--ladder", "funnel"],
         "funnel by source": ["--ladder", "funnel", "--by", "source"]}


def exported(db: Path, leads: int) -> Path:
    out = CACHE / f"parquet-model-{leads}"
    if not (out / "activities.parquet").exists():
        subprocess.run([sys.executable, "-m", "funnel.cli.main", "export-tables", "--db", str(db), "--out", str(out)],
                       check=True, capture_output=True)
    return out


def timed(args: list[str], env: dict[str, str]) -> tuple[float, bytes]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "funnel.cli.main", "metrics", *args], env=env,
                          capture_output=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"funnel metrics {' '.join(args)} failed:\n{done.stderr.decode()[-2000:]}")
    return wall, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="1g")
    args = parser.parse_args()
    env = {**os.environ, "FUNNEL_SPARK_MASTER": args.master, "FUNNEL_SPARK_DRIVER_MEMORY": args.driver_memory,
           "PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    print(f"{'leads':>10}  {'case':<18} {'duckdb s':>9} {'spark s':>9} {'× slower':>9}  identical")
    for leads in args.leads:
        db = model_store(leads)
        data = exported(db, leads)
        for case, extra in CASES.items():
            duck_s, duck = timed(["--db", str(db), *extra], env)
            spark_s, spark = timed(["--engine", "spark", "--data", str(data), *extra], env)
            print(f"{leads:>10,}  {case:<18} {duck_s:>9.1f} {spark_s:>9.1f} {spark_s / duck_s:>9.1f}  "
                  f"{'yes' if duck == spark else 'NO'}", flush=True)


if __name__ == "__main__":
    main()
