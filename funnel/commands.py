"""Subcommands beyond import/info/sample, registered with `funnel.cli.command`."""

from __future__ import annotations

import argparse

from funnel.cli import command


def presets_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("text", "json"), default="text")


@command("presets", presets_arguments)
def run_presets(args: argparse.Namespace) -> int:
    """List the vendor presets and the files each recognises."""
    import json

    from funnel.presets import PRESET_DIR, all_presets

    rows = [{"preset": path.stem, "name": preset.name, "description": preset.description,
             "tables": sorted({f.table for f in preset.files})}
            for path, preset in zip(sorted(PRESET_DIR.glob("*.toml")), all_presets())]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            print(f"{r['preset']:<28} {', '.join(r['tables']):<32} {r['name']}")
    return 0


def metrics_arguments(p: argparse.ArgumentParser) -> None:
    from funnel.cli import config_argument, db_argument

    db_argument(p)
    config_argument(p)
    p.add_argument("--as-of", type=_day, default=None, help="compute as of the end of this day (YYYY-MM-DD; "
                   "default: the newest timestamp in the data)")
    p.add_argument("--ladder", choices=("lifecycle", "funnel"), default="lifecycle")
    p.add_argument("--window-days", type=int, default=None, help="conversion window W (default: the settings')")
    p.add_argument("--from", dest="period_start", type=_day, default=None,
                   help="first day of the stage entries that form conversion cohorts")
    p.add_argument("--to", dest="period_end", type=_day, default=None, help="last day of those entries")
    p.add_argument("--by", default=None, help="a lead column to segment every section by (e.g. source)")
    p.add_argument("--format", choices=("json", "csv"), default="json")


def _day(text: str):
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


@command("metrics", metrics_arguments)
def run_metrics(args: argparse.Namespace) -> int:
    """Stage distribution, conversion, aging and segment performance as of a date (JSON or CSV)."""
    import json
    import sys

    from funnel.analyses.report import metrics_report, report_table
    from funnel.config import load_settings
    from funnel.db import connect
    from funnel.errors import FunnelError
    from funnel.export import csv_bytes
    from funnel.filters import Filters
    from funnel.history import newest_day

    settings = load_settings(args.config)
    con = connect(args.db, read_only=True)
    try:
        as_of = args.as_of or newest_day(con)
        if as_of is None:
            raise FunnelError("the store holds no dated rows yet", hint="Import leads or stage events first")
        filters = Filters(as_of=as_of, ladder=args.ladder, period_start=args.period_start, period_end=args.period_end)
        report = metrics_report(con, filters, settings=settings, by=args.by, window_days=args.window_days)
    finally:
        con.close()
    if args.format == "json":
        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(csv_bytes(report_table(report)))
    return 0


def leads_arguments(p: argparse.ArgumentParser) -> None:
    from funnel.cli import config_argument, db_argument

    db_argument(p)
    config_argument(p)
    p.add_argument("--as-of", type=_day, default=None, help="compute as of the end of this day (YYYY-MM-DD; "
                   "default: the newest timestamp in the data)")
    p.add_argument("--format", choices=("csv", "json"), required=True)


@command("leads", leads_arguments)
def run_leads(args: argparse.Namespace) -> int:
    """Every lead with its funnel stage and evidence, fit, intent, quadrant, tags, next owner and action."""
    import json
    import sys
    from datetime import datetime

    import polars as pl

    from funnel.config import load_settings
    from funnel.db import connect
    from funnel.errors import FunnelError
    from funnel.export import csv_bytes
    from funnel.inventory import newest_timestamp
    from funnel.scoring import leads_report

    settings = load_settings(args.config)
    con = connect(args.db, read_only=True)
    try:
        as_of = args.as_of
        if as_of is None:
            newest = newest_timestamp(con)
            if newest is None:
                raise FunnelError("the store holds no dated rows yet", hint="Import leads and activities first")
            as_of = newest.date() if isinstance(newest, datetime) else newest
        report = leads_report(con, settings=settings, as_of=as_of).with_columns(pl.col("intent_score").round(2))
    finally:
        con.close()
    if args.format == "json":
        sys.stdout.write(json.dumps(report.to_dicts(), ensure_ascii=False, default=lambda v: v.isoformat()) + "\n")
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(csv_bytes(report.with_columns(pl.col("tags").list.join("; "))))
    return 0
