"""Every `funnel` subcommand: its arguments and what it runs, registered in `funnel.cli.registry`.

Modules a command needs are imported when it runs, so `funnel --help` starts fast."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from funnel.cli.registry import command, config_argument, db_argument
from funnel.errors import FunnelError


def import_arguments(p: argparse.ArgumentParser) -> None:
    db_argument(p)
    config_argument(p)
    p.add_argument("--table", default=None, help="the canonical table the files feed (default: recognised)")
    p.add_argument("--mapping", type=Path, default=None, help="a mapping .toml for non-canonical exports")
    p.add_argument("--preset", default=None, help="a vendor preset by name (see `funnel presets`)")
    p.add_argument("--sheet", default=None, help="the sheet to read from XLSX workbooks")
    p.add_argument("files", nargs="+", type=Path, help="CSV, XLSX or Parquet exports")


@command("import", import_arguments)
def run_import(args: argparse.Namespace) -> int:
    from funnel.config import load_settings
    from funnel.ingest.importer import prepare_import, write_imports
    from funnel.ingest.mapping import load_mapping
    from funnel.ingest.presets import preset_for
    from funnel.model.identity import identity_matches, match_summary, rebuild_identity
    from funnel.store.db import connect

    settings = load_settings(args.config)
    mapping = load_mapping(args.mapping) if args.mapping else (preset_for(args.preset) if args.preset else None)
    saved = saved_mappings_of(args.db)
    prepared = []
    for path in args.files:
        if not path.is_file():
            raise FunnelError("the file does not exist", file=str(path), hint="Check the path")
        prepared.append(prepare_import(path, table=args.table, mapping=mapping, settings=settings,
                                       sheet=args.sheet, saved=saved))
    con = connect(args.db)
    try:
        results = write_imports(con, prepared)
        rebuild_identity(con, settings=settings)
        matches = identity_matches(con)
        for result in results:
            print(result.summary())
            for warning in result.warnings:
                print(f"  note: {warning}")
            for row in matches.filter(matches["import_id"] == result.import_id).iter_rows(named=True):
                print(f"  people: {match_summary(row)}")
    finally:
        con.close()
    return 0


def saved_mappings_of(db: Path | None) -> tuple:
    """The mappings saved on the Data page of this database (none when it does not exist yet)."""
    from funnel.ingest.mapping_guess import saved_mappings
    from funnel.store.db import connect, default_db_path

    path = db or default_db_path()
    if not Path(path).is_file():
        return ()
    con = connect(path, read_only=True)
    try:
        return saved_mappings(con)
    finally:
        con.close()


def info_arguments(p: argparse.ArgumentParser) -> None:
    db_argument(p)


@command("info", info_arguments)
def run_info(args: argparse.Namespace) -> int:
    from funnel.model.identity import identity_is_built, identity_summary
    from funnel.store.db import connect
    from funnel.store.inventory import store_summary

    con = connect(args.db, read_only=True)
    try:
        summary = store_summary(con)
        if identity_is_built(con):
            summary += "\n\n" + identity_summary(con)
    finally:
        con.close()
    print(summary)
    return 0


def sample_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--leads", type=int, default=5000, help="number of leads (default 5000)")
    p.add_argument("--out", type=Path, required=True, help="folder to write the canonical CSV files to")
    p.add_argument("--seed", type=int, default=7, help="random seed (same seed, same files)")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv")


@command("sample", sample_arguments)
def run_sample(args: argparse.Namespace) -> int:
    from funnel.ingest.sample import write_sample

    if args.leads < 1:
        raise FunnelError("--leads must be at least 1", value=str(args.leads))
    paths = write_sample(args.out, leads=args.leads, seed=args.seed, fmt=args.format)
    for table, path in paths.items():
        print(f"{table}: {path}")
    return 0


def presets_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("text", "json"), default="text")


@command("presets", presets_arguments)
def run_presets(args: argparse.Namespace) -> int:
    """List the vendor presets and the files each recognises."""
    import json

    from funnel.ingest.presets import PRESET_DIR, all_presets

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

    from funnel.analyses.report import metrics_report, report_table
    from funnel.config import load_settings
    from funnel.errors import FunnelError
    from funnel.export import csv_bytes
    from funnel.filters import Filters
    from funnel.model.history import newest_day
    from funnel.store.db import connect

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

    db_argument(p)
    config_argument(p)
    p.add_argument("--as-of", type=_day, default=None, help="compute as of the end of this day (YYYY-MM-DD; "
                   "default: the newest timestamp in the data)")
    p.add_argument("--format", choices=("csv", "json"), required=True)


@command("leads", leads_arguments)
def run_leads(args: argparse.Namespace) -> int:
    """Every lead with its funnel stage and evidence, fit, intent, quadrant, tags, next owner and action."""
    import json
    from datetime import datetime

    import polars as pl

    from funnel.config import load_settings
    from funnel.errors import FunnelError
    from funnel.export import csv_bytes
    from funnel.model.scoring import leads_report
    from funnel.store.db import connect
    from funnel.store.inventory import newest_timestamp

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
