"""Speed and memory of the CRM audit's duplicate matching at 100k and 1M leads (a plain script).

    .venv/bin/python benchmarks/bench_hygiene.py [--leads 100000 1000000]
    PYTHONPATH=. .venv/bin/python benchmarks/bench_hygiene.py --reports DB [--repeat 3]

`--reports DB`: instead, the CPU seconds of the exact hygiene report at D (the newest day) and at the previous
month end, as the Handoff & hygiene and Data quality pages ask for it, each run in a fresh process on the store
DB (say side_by_side.py's benchmarks/.cache/model-100000.duckdb, the lead model built), with the store's saved
settings; the median of `--repeat` runs. The code measured is the `funnel` on PYTHONPATH (a checkout before
`hygiene_reports` existed is measured one day after the other).

For each size, the sample's leads and accounts (no activities: matching does not read them beyond
the last-activity date) are written once into a DuckDB store in benchmarks/.cache. Then, in a fresh
process each: person matching (records with keys, Splink pairs with blocking, merge suggestions)
and company matching, wall time and peak RSS; and, in this process, the comparisons the blocking
rules generate against all pairs, and precision/recall against the sample's planted duplicates.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, child

PERSON = """
from funnel.store.db import connect
from funnel.analyses import duplicates as d
from funnel.model.records import person_records
con = connect({db!r}, read_only=True)
records = person_records(con)
pairs = d.person_duplicate_pairs(records, threshold=0.9)
merges = d.merge_suggestions(records, pairs, id_column="lead_id", survivor="oldest")
pairs.write_parquet({out!r})
"""
REPORTS = """
import time
from funnel.analyses import crm_audit as ca
from funnel.analyses import hygiene as hy
from funnel.model.history import newest_day
from funnel.store.db import connect
from funnel.store.status import saved_settings_text
from pages.ui.store import settings_for
con = connect({db!r}, read_only=True)
settings = settings_for(saved_settings_text(con))
as_of = newest_day(con)
days = (as_of, ca.previous_month_end(as_of))
start = time.process_time()
if hasattr(hy, "hygiene_reports"):
    hy.hygiene_reports(con, settings=settings, days=days)
else:
    for day in days:
        hy.hygiene_report(con, settings=settings, as_of=day)
print("@@", time.process_time() - start)
"""
COMPANY = """
from funnel.store.db import connect
from funnel.analyses import duplicates as d
from funnel.model.records import company_records
con = connect({db!r}, read_only=True)
records = company_records(con)
pairs = d.company_duplicate_pairs(records, threshold=0.9)
"""


def store_of(leads: int) -> Path:
    """A store holding the sample's leads and accounts for `leads` leads, written once."""
    from funnel.ingest.sample import sample_tables
    from funnel.store.db import connect

    db = CACHE / f"hygiene_{leads}.duckdb"
    if db.exists():
        return db
    CACHE.mkdir(parents=True, exist_ok=True)
    tables = sample_tables(leads=leads, activities_per_lead=0.0)
    con = connect(db)
    for name in ("leads", "accounts"):
        con.register("incoming", tables[name].to_arrow())
        con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM incoming")
        con.unregister("incoming")
    con.close()
    return db


def blocked_comparisons(db: Path) -> int:
    import duckdb
    from splink import DuckDBAPI, block_on
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    from funnel.analyses import duplicates as d
    from funnel.model.records import person_records
    from funnel.store.db import connect

    con = connect(db, read_only=True)
    records = person_records(con).select("lead_id", "email_key", "phone_key", "org_domain", "last_key",
                                         "first_key", "company_key")
    con.close()
    scratch = duckdb.connect()
    api = DuckDBAPI(scratch)
    table = api.register(records.rename({"lead_id": "unique_id"}).to_arrow(), table_name="r")
    counts = count_comparisons_from_blocking_rules(
        table, blocking_rules=[block_on(*b) for b in d.PERSON_BLOCKING], link_type="dedupe_only",
        record_sample_proportion=1.0)
    scratch.close()
    return int(counts[-1]["cumulative_comparison_count"])


def report_seconds(db: Path, repeat: int) -> float:
    """Median CPU seconds of the two-day hygiene report on `db`, each run in a fresh process."""
    import statistics
    import subprocess

    runs = []
    for _ in range(repeat):
        done = subprocess.run([sys.executable, "-c", REPORTS.format(db=str(db))], capture_output=True, text=True,
                              check=True)
        runs.append(float(done.stdout.rsplit("@@", 1)[1].split()[0]))
    return statistics.median(runs)


def main() -> int:
    import polars as pl

    from funnel.analyses.duplicates import precision_recall
    from funnel.ingest.sample import planted_duplicate_pairs

    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", nargs="+", type=int, default=[100_000, 1_000_000])
    parser.add_argument("--reports", type=Path, help="time the two-day hygiene report on this store instead")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.reports:
        seconds = report_seconds(args.reports, args.repeat)
        print(f"hygiene report at D and the previous month end: {seconds:.2f} CPU s (median of {args.repeat})")
        return 0
    print(f"{'leads':>9} {'step':<18} {'wall s':>8} {'peak MB':>8}  notes")
    for n in args.leads:
        db = store_of(n)
        out = CACHE / f"hygiene_pairs_{n}.parquet"
        wall, peak = child(PERSON.format(db=str(db), out=str(out)))
        pairs = pl.read_parquet(out)
        planted = planted_duplicate_pairs(leads=n, activities_per_lead=0.0)
        precision, recall = precision_recall(pairs, planted.select(pl.col("lead_id").alias("id_l"),
                                                                   pl.col("original_id").alias("id_r")))
        compared = blocked_comparisons(db)
        print(f"{n:>9} {'people':<18} {wall:>8.1f} {peak:>8.0f}  {pairs.height} pairs; precision "
              f"{precision:.3f}, recall {recall:.3f} (transitive) of {planted.height} planted; "
              f"{compared:,} comparisons of {n * (n - 1) // 2:,} pairs", flush=True)
        wall, peak = child(COMPANY.format(db=str(db)))
        print(f"{n:>9} {'companies':<18} {wall:>8.1f} {peak:>8.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
