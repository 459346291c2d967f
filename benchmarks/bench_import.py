"""Import CPU and peak memory: the importer on a generated sample against DuckDB's own read_csv.

Every side runs in a fresh process on the same files in the same run; the ratios are what matter.
CPU seconds count the process and all its children (the parse worker); peak memory is the largest
resident set of the process or of any one child. `import` is the batch write into the raw tables
(`import_paths`: parse, map, validate, write), without the lead model's build, which is measured on its
own. Set FUNNEL_BENCH_BEFORE to another checkout (e.g. /work/main) to measure its importer in the same
run ("before" columns).

    python benchmarks/bench_import.py 100000 [1000000]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARD_LEADS, child, sample_dir, sample_files

ROOT = Path(__file__).resolve().parents[1]
TABLES = ("accounts", "leads", "stage_events", "deals", "activities")

MEASURED = """
import json, resource, sys
def peak_self_mb():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            return int(line.split()[1]) / 1024
    return 0.0
{code}
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({{"cpu": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
                  "peak": max(peak_self_mb(), kids.ru_maxrss / 1024)}}))
"""

READ_CSV = """
import duckdb
con = duckdb.connect({db!r})
for i, path in enumerate({paths!r}):
    con.execute(f'CREATE OR REPLACE TABLE t{{i}} AS SELECT * FROM read_csv(?)', [path])
con.close()
"""

IMPORT = """
from pathlib import Path
from funnel.ingest.importer import import_paths
from funnel.store.db import connect
con = connect({db!r})
import_paths(con, [Path(p) for p in {paths!r}])
con.close()
"""


def measured(code: str, *, pythonpath: Path) -> tuple[float, float]:
    """CPU seconds (process and children) and peak RSS MB of `code` in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    out = subprocess.run([sys.executable, "-c", MEASURED.format(code=code)], capture_output=True, text=True,
                         check=True, env=env)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["cpu"], result["peak"]


def bench(leads: int, *, before: Path | None) -> list[dict]:
    files = sample_files(leads)
    groups = [(table, [str(path) for path in files[table]]) for table in TABLES]
    groups.append(("all five", [str(path) for table in TABLES for path in files[table]]))
    rows = []
    for label, paths in groups:
        with tempfile.TemporaryDirectory() as tmp:
            row = {"leads": leads, "files": label, "mb": sum(Path(p).stat().st_size for p in paths) / 1e6}
            row["duckdb_cpu"], row["duckdb_mb"] = measured(READ_CSV.format(db=f"{tmp}/base.duckdb", paths=paths),
                                                           pythonpath=ROOT)
            row["cpu"], row["peak_mb"] = measured(IMPORT.format(db=f"{tmp}/after.duckdb", paths=paths),
                                                  pythonpath=ROOT)
            if before is not None:
                row["before_cpu"], row["before_mb"] = measured(IMPORT.format(db=f"{tmp}/before.duckdb",
                                                                             paths=paths), pythonpath=before)
        rows.append(row)
    return rows


IDENTITY_RUN = """
import json, time
from pathlib import Path
from funnel.ingest.importer import prepare_import, write_import
from funnel.model.identity import rebuild_identity
from funnel.store.db import connect
folder = Path({folder!r})
con = connect(folder / "identity.duckdb")
start = time.perf_counter()
for name in ("accounts.csv", "leads.csv", "stage_events.csv", "deals.csv", "activities_crm.csv",
             "activities_tool.csv"):
    write_import(con, prepare_import(folder / name))
imported = time.perf_counter()
rebuild_identity(con)
built = time.perf_counter()
people = con.execute("SELECT count(*) FROM identity_map").fetchall()[0][0]
con.close()
(folder / "timings.json").write_text(json.dumps({{"import_s": imported - start, "identity_s": built - imported,
                                                 "people": people}}))
"""


def identity_files(leads: int, folder: Path) -> None:
    """The sample as two tools would export it: the CRM's files, a third of the activities under the CRM id,
    the rest under a marketing tool's profile id with the person's e-mail (joined by the identity model)."""
    import polars as pl

    sample = sample_dir(leads)
    for name in ("accounts.csv", "leads.csv", "stage_events.csv", "deals.csv"):
        (folder / name).write_bytes((sample / name).read_bytes())
    emails = pl.read_csv(sample / "leads.csv", infer_schema=False).select("lead_id", "email")
    acts = pl.read_csv(sample / "activities.csv", infer_schema=False).with_row_index("n")
    crm = acts.filter(pl.col("n") % 3 == 0).drop("n")
    tool = (acts.filter(pl.col("n") % 3 != 0).drop("n").join(emails, on="lead_id", how="left")
            .with_columns(pl.concat_str(pl.lit("K-"), pl.col("lead_id")).alias("lead_id")))
    crm.write_csv(folder / "activities_crm.csv")
    tool.write_csv(folder / "activities_tool.csv")


def bench_identity(leads: int) -> dict:
    """The identity build against the import of the same files, in one fresh process."""
    import json

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        identity_files(leads, folder)
        child(IDENTITY_RUN.format(folder=str(folder)))
        timings = json.loads((folder / "timings.json").read_text())
    return {"leads": leads, **timings, "share": timings["identity_s"] / timings["import_s"]}


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [100_000]
    before = Path(os.environ["FUNNEL_BENCH_BEFORE"]) if os.environ.get("FUNNEL_BENCH_BEFORE") else None
    print(f"{'leads':>9} {'files':<13} {'MB':>7} {'read_csv cpu':>12} {'import cpu':>10} {'×':>5} "
          f"{'read_csv MB':>11} {'import MB':>9} {'×':>5}" + (f" {'before cpu':>10} {'×':>5} {'before MB':>9} {'×':>5}"
                                                              if before else ""))
    for leads in sizes:
        for r in bench(leads, before=before):
            line = (f"{r['leads']:>9} {r['files']:<13} {r['mb']:>7.1f} {r['duckdb_cpu']:>12.2f} {r['cpu']:>10.2f} "
                    f"{r['cpu'] / r['duckdb_cpu']:>5.2f} {r['duckdb_mb']:>11.0f} {r['peak_mb']:>9.0f} "
                    f"{r['peak_mb'] / r['duckdb_mb']:>5.2f}")
            if before:
                line += (f" {r['before_cpu']:>10.2f} {r['before_cpu'] / r['duckdb_cpu']:>5.2f} "
                         f"{r['before_mb']:>9.0f} {r['before_mb'] / r['duckdb_mb']:>5.2f}")
            print(line, flush=True)
    print(f"\n{'leads':>9} {'import s':>9} {'identity s':>11} {'share':>6} {'people':>9}  (identity budget: 25%)")
    for leads in sizes:
        if leads > SHARD_LEADS:  # its two-tool files are rewritten from one leads.csv and one activities.csv
            print(f"{leads:>9} (the identity build is measured up to {SHARD_LEADS:,} leads)")
            continue
        r = bench_identity(leads)
        print(f"{r['leads']:>9} {r['import_s']:>9.2f} {r['identity_s']:>11.2f} {r['share']:>6.0%} {r['people']:>9}")


if __name__ == "__main__":
    main()
