"""The tuned reference of `funnel metrics`, in plain DuckDB SQL (reference_metrics.sql), and its check.

    python benchmarks/reference.py --db STORE [--ladder lifecycle|funnel] [--as-of YYYY-MM-DD] [--check]

It computes the five metric families `funnel metrics` reports (distribution, conversion, aging, segment reach,
deal results) for the whole population, with the default policies and without intervals or tests: the
baseline the `funnel metrics` process is measured against. The funnel ladder's reference reads the lead
model's stored entries (model_funnel_entries). `--check` runs `funnel metrics` in this process and compares
every figure both give; it prints the differences and exits 1 when there are any.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import duckdb

from funnel.config import Settings

QUANTILES = ("median_days", "p80_days", "p90_days", "median_days_to_customer")
Key = tuple[str, str | None, str]  # family, stage (or from stage), metric


def reference_sql(ladder: str) -> str:
    """reference_metrics.sql with the ladder's entries (reference_entries_<ladder>.sql) in place."""
    entries = (HERE / f"reference_entries_{ladder}.sql").read_text(encoding="utf-8")
    body = "\n".join(line for line in entries.splitlines() if not line.startswith("--"))
    return (HERE / "reference_metrics.sql").read_text(encoding="utf-8").replace("/*@entries*/", body.strip())


def reference_params(settings: Settings, *, ladder: str, as_of: date) -> dict[str, Any]:
    """The parameters of reference_metrics.sql for `settings`, `ladder` and day D."""
    main = settings.ladders.stages(ladder)
    names = main + settings.ladders.side(ladder)
    first_reported = main.index("lead") + 1 if ladder == "lifecycle" and "lead" in main[:-1] else 1
    return {
        "stages": list(names), "n_main": len(main),
        "until": datetime.combine(as_of + timedelta(days=1), time()), "as_of": as_of,
        "window": settings.conversion.window_days, "buckets": list(settings.aging.buckets),
        "sla": [settings.aging.sla_days.get(name) for name in names],
        "opportunity": main.index("opportunity") if "opportunity" in main else -1,
        "first_reported": first_reported,
    }


def reference_rows(con: duckdb.DuckDBPyConnection, settings: Settings, *, ladder: str,
                   as_of: date) -> list[tuple[str, int | None, str, float | None]]:
    """(family, stage_rank, metric, value) rows of the reference, fetched in full."""
    return con.execute(reference_sql(ladder), reference_params(settings, ladder=ladder, as_of=as_of)).fetchall()


def reference_figures(rows: list[tuple[str, int | None, str, float | None]], settings: Settings, *,
                      ladder: str) -> dict[Key, float | None]:
    """The reference's rows keyed like `report_figures`: stage names, bucket labels, no over_sla without SLA."""
    names = settings.ladders.stages(ladder) + settings.ladders.side(ladder)
    labels = settings.aging.bucket_labels()
    figures: dict[Key, float | None] = {}
    for family, rank, metric, value in rows:
        stage = None if rank is None else names[rank]
        if metric.startswith("bucket_"):
            metric = labels[int(metric.removeprefix("bucket_"))]
        if metric == "over_sla" and settings.aging.sla_days.get(stage or "") is None:
            continue
        figures[(family, stage, metric)] = value
    return figures


def report_figures(report: dict[str, Any]) -> dict[Key, float | None]:
    """The figures of a `funnel metrics` JSON report (its whole-population rows) that the reference computes."""
    figures: dict[Key, float | None] = {}
    for row in report["distribution"]:
        if row["segment"] is None:
            figures[("distribution", row["stage"], "leads")] = row["leads"]
    for row in report["conversion"]:
        if row["segment"] is None:
            for metric in ("entered", "advanced", "lost", "expired", "open", "implied"):
                figures[("conversion", row["from_stage"], metric)] = row[metric]
    for row in report["aging"]:
        if row["segment"] is None:
            for metric in ("leads", "median_days", "p80_days", "p90_days"):
                figures[("aging", row["stage"], metric)] = row[metric]
            if row["sla_days"] is not None:
                figures[("aging", row["stage"], "over_sla")] = row["over_sla"]
            for label, count in row["buckets"].items():
                figures[("aging", row["stage"], label)] = count
    for row in report["segments"]:
        if row["segment"] is None:
            figures[("reach", None, "leads")] = row["leads"]
            for stage, count in row["reached"].items():
                figures[("reach", stage, "reached")] = count
            for metric in ("closed_deals", "won_deals", "won_amount", "median_days_to_customer"):
                figures[("deals", None, metric)] = row[metric]
    return figures


def differences(report: dict[Key, float | None], reference: dict[Key, float | None]) -> list[str]:
    """Every figure on which the two disagree (a count one side lacks is 0; a missing quantile is null)."""
    out = []
    for key in sorted(set(report) | set(reference), key=repr):
        missing = None if key[2] in QUANTILES else 0
        ours, theirs = report.get(key, missing), reference.get(key, missing)
        if ours is None or theirs is None:
            same = ours is None and theirs is None
        else:
            same = math.isclose(float(ours), float(theirs), rel_tol=1e-9, abs_tol=1e-6)
        if not same:
            out.append(f"{key}: funnel metrics {ours!r}, reference {theirs!r}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--ladder", default="lifecycle", choices=("lifecycle", "funnel"))
    parser.add_argument("--as-of", type=date.fromisoformat, default=None)
    parser.add_argument("--check", action="store_true", help="compare with `funnel metrics` on the same store")
    args = parser.parse_args(argv)

    from funnel.config import default_settings
    from funnel.model.history import newest_day
    from funnel.store.db import connect

    settings = default_settings()
    con = connect(args.db, read_only=True)
    try:
        as_of = args.as_of or newest_day(con)
        rows = reference_rows(con, settings, ladder=args.ladder, as_of=as_of)
        if not args.check:
            print(json.dumps({"rows": len(rows)}))
            return 0
        from funnel.analyses.report import metrics_report
        from funnel.filters import Filters

        report = metrics_report(con, Filters(as_of=as_of, ladder=args.ladder), settings=settings)
    finally:
        con.close()
    report = json.loads(json.dumps(report, default=str))
    ours, theirs = report_figures(report), reference_figures(rows, settings, ladder=args.ladder)
    diff = differences(ours, theirs)
    print(f"{args.ladder} as of {as_of}: {len(ours)} figures of funnel metrics, {len(theirs)} of the reference, "
          f"{len(diff)} differ")
    for line in diff:
        print("  " + line)
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
