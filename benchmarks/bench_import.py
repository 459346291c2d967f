"""Import speed and peak memory: `funnel import` of a generated sample against DuckDB's own read_csv.

Both sides run in fresh processes on the same files in the same run; the ratio is what matters.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import child, sample_dir

TABLES = ("accounts", "leads", "stage_events", "deals", "activities")


def bench(leads: int, *, repeat: int) -> list[dict]:
    folder = sample_dir(leads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for table in TABLES:
            path = folder / f"{table}.csv"
            baseline = (f"import duckdb\ncon = duckdb.connect({str(Path(tmp) / 'base.duckdb')!r})\n"
                        f"con.execute('CREATE OR REPLACE TABLE t AS SELECT * FROM read_csv(?)', [{str(path)!r}])\n"
                        "con.close()")
            ours = (f"from pathlib import Path\nimport os\nPath({str(Path(tmp) / 'ours.duckdb')!r}).unlink(missing_ok=True)\n"
                    "from funnel.cli.main import main\n"
                    f"assert main(['import', '--db', {str(Path(tmp) / 'ours.duckdb')!r}, {str(path)!r}]) == 0")
            base_s, base_mb = child(baseline, repeat=repeat)
            our_s, our_mb = child(ours, repeat=repeat)
            rows.append({"leads": leads, "table": table, "mb": path.stat().st_size / 1e6,
                         "duckdb_s": base_s, "funnel_s": our_s, "ratio": our_s / base_s,
                         "duckdb_peak_mb": base_mb, "funnel_peak_mb": our_mb})
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
    sizes = [int(a) for a in sys.argv[1:]] or [100_000, 1_000_000]
    print(f"{'leads':>9} {'table':<13} {'file MB':>8} {'duckdb s':>9} {'funnel s':>9} {'ratio':>6} "
          f"{'duckdb MB':>10} {'funnel MB':>10}")
    for leads in sizes:
        for r in bench(leads, repeat=3 if leads <= 100_000 else 1):
            print(f"{r['leads']:>9} {r['table']:<13} {r['mb']:>8.1f} {r['duckdb_s']:>9.2f} {r['funnel_s']:>9.2f} "
                  f"{r['ratio']:>6.2f} {r['duckdb_peak_mb']:>10.0f} {r['funnel_peak_mb']:>10.0f}")
    print(f"\n{'leads':>9} {'import s':>9} {'identity s':>11} {'share':>6} {'people':>9}  (identity budget: 25%)")
    for leads in sizes:
        r = bench_identity(leads)
        print(f"{r['leads']:>9} {r['import_s']:>9.2f} {r['identity_s']:>11.2f} {r['share']:>6.0%} {r['people']:>9}")


if __name__ == "__main__":
    main()
