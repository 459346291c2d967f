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


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [100_000, 1_000_000]
    print(f"{'leads':>9} {'table':<13} {'file MB':>8} {'duckdb s':>9} {'funnel s':>9} {'ratio':>6} "
          f"{'duckdb MB':>10} {'funnel MB':>10}")
    for leads in sizes:
        for r in bench(leads, repeat=3 if leads <= 100_000 else 1):
            print(f"{r['leads']:>9} {r['table']:<13} {r['mb']:>8.1f} {r['duckdb_s']:>9.2f} {r['funnel_s']:>9.2f} "
                  f"{r['ratio']:>6.2f} {r['duckdb_peak_mb']:>10.0f} {r['funnel_peak_mb']:>10.0f}")


if __name__ == "__main__":
    main()
