"""Every `funnel` subcommand: its arguments and what it runs, registered in `funnel.cli.registry`.

Modules a command needs are imported when it runs, so `funnel --help` starts fast."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from funnel.cli.registry import command, config_argument, db_argument, engine_arguments
from funnel.config import MAX_WINDOW_DAYS
from funnel.errors import FunnelError, printable


def import_arguments(p: argparse.ArgumentParser) -> None:
    db_argument(p)
    config_argument(p)
    p.add_argument("--table", default=None, help="the canonical table the files feed (default: recognised)")
    p.add_argument("--mapping", type=Path, default=None, help="a mapping .toml for non-canonical exports")
    p.add_argument("--preset", default=None, help="a vendor preset by name (see `funnel presets`)")
    p.add_argument("--sheet", default=None, help="the sheet to read from XLSX workbooks")
    p.add_argument("files", nargs="+", type=Path, help="CSV, XLSX or Parquet exports")


MAX_SAMPLE_LEADS = 50_000_000


@command("import", import_arguments)
def run_import(args: argparse.Namespace) -> int:
    from funnel.ingest.importer import BatchFile, import_batch
    from funnel.ingest.mapping import load_mapping
    from funnel.ingest.presets import preset_for
    from funnel.model.build import rebuild_model
    from funnel.model.identity import identity_matches, match_summary
    from funnel.store.db import connect, default_db_path
    from funnel.store.settings_versions import settings_in_force

    mapping = load_mapping(args.mapping) if args.mapping else (preset_for(args.preset) if args.preset else None)
    saved = saved_mappings_of(args.db)
    for path in args.files:
        if not path.is_file():
            raise FunnelError("the file does not exist", file=str(path), hint="Check the path")
    files = [BatchFile(path, table=args.table, mapping=mapping, sheet=args.sheet) for path in args.files]
    db = Path(args.db or default_db_path())
    existed = db.exists()
    con = connect(db)
    try:
        settings = settings_in_force(con, args.config)
        results = import_batch(con, files, settings=settings, saved=saved)
    except BaseException:
        con.close()
        if not existed:  # a refused first import leaves no database behind, as before it was opened
            for leftover in (db, db.with_name(db.name + ".wal")):
                leftover.unlink(missing_ok=True)
        raise
    try:
        rebuild_model(con, settings=settings)
        matches = identity_matches(con)
        for result in results:
            print(result.summary())
            for warning in result.warnings:
                print(f"  note: {printable(warning)}")
            for row in matches.filter(matches["import_id"] == result.import_id).iter_rows(named=True):
                print(f"  people: {printable(match_summary(row))}")
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


def model_arguments(p: argparse.ArgumentParser) -> None:
    db_argument(p)
    config_argument(p)
    p.add_argument("--build", action="store_true",
                   help="build what the lead model lacks for these settings (imports build it already)")


@command("model", model_arguments)
def run_model(args: argparse.Namespace) -> int:
    """The lead model kept in the database: what is built, for which settings; --build builds what is missing."""
    from funnel.model.build import ensure_model
    from funnel.model.materialised import model_is_current, model_parts
    from funnel.store.db import connect
    from funnel.store.settings_versions import settings_in_force

    con = connect(args.db, read_only=not args.build)
    try:
        settings = settings_in_force(con, args.config)
        if args.build:
            ensure_model(con, settings=settings,
                         progress=lambda step, done: print(f"{done:4.0%} {step}", file=sys.stderr))
        parts, current = model_parts(con), model_is_current(con, settings)
    finally:
        con.close()
    for row in parts.iter_rows(named=True):
        print(f"{row['part']}: {row['rows']:,} rows, built {row['built_at']:%Y-%m-%d %H:%M} in {row['seconds']:.1f} s "
              f"for settings {row['settings_key']}")
    if not current:
        print("The lead model is not built for these settings: every figure is computed from the tables (slower). "
              "Run funnel model --build.")
    return 0


def sample_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--leads", type=int, default=5000, help=f"number of leads, 1 to {MAX_SAMPLE_LEADS:,} (default 5000)")
    p.add_argument("--out", type=Path, required=True, help="folder to write the canonical CSV files to")
    p.add_argument("--seed", type=bounded_int(0, 2**32 - 1), default=7, help="random seed (same seed, same files)")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv")


@command("sample", sample_arguments)
def run_sample(args: argparse.Namespace) -> int:
    from funnel.ingest.sample import write_sample

    if not 1 <= args.leads <= MAX_SAMPLE_LEADS:
        raise FunnelError(f"--leads must be between 1 and {MAX_SAMPLE_LEADS:,}", value=str(args.leads))
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
    engine_arguments(p)
    config_argument(p)
    p.add_argument("--as-of", type=_day, default=None, help="compute as of the end of this day (YYYY-MM-DD; "
                   "default: the newest timestamp in the data)")
    p.add_argument("--ladder", choices=("lifecycle", "funnel"), default="lifecycle")
    p.add_argument("--window-days", type=bounded_int(1, MAX_WINDOW_DAYS), default=None,
                   help=f"conversion window W, 1 to {MAX_WINDOW_DAYS} days (default: the settings')")
    p.add_argument("--from", dest="period_start", type=_day, default=None,
                   help="first day of the stage entries that form conversion cohorts")
    p.add_argument("--to", dest="period_end", type=_day, default=None, help="last day of those entries")
    p.add_argument("--by", default=None, help="a lead column or custom attribute to segment every section by, by its "
                   "plain name (source, industry, \"Lead Origin\") or as attr:NAME")
    p.add_argument("--format", choices=("json", "csv"), default="json")


def _day(text: str):
    from datetime import date

    from funnel.filters import FIRST_DAY, LAST_DAY

    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise argparse.ArgumentTypeError(f"{text!r} is outside the years {FIRST_DAY.year}–{LAST_DAY.year}")
    return day


def bounded_int(low: int, high: int):
    """An argparse type: a whole number from `low` to `high`, refused with the range otherwise."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is not between {low:,} and {high:,}")
        return value
    parse.__name__ = "whole number"
    return parse


@command("metrics", metrics_arguments)
def run_metrics(args: argparse.Namespace) -> int:
    """Stage distribution, conversion, aging and segment performance as of a date (JSON or CSV)."""
    import json

    from funnel.analyses.report import metrics_report, report_table, undated_metrics_report
    from funnel.export import csv_bytes
    from funnel.filters import Filters
    from funnel.model.history import lead_dimension_named, newest_day
    from funnel.store.db import table_counts
    from funnel.store.settings_versions import settings_in_force

    with _engine_connection(args) as con:
        settings = settings_in_force(con, args.config)
        by = lead_dimension_named(con, args.by) if args.by else None
        as_of = args.as_of or newest_day(con)
        if as_of is None and not any(table_counts(con)[t] for t in ("leads", "stage_events")):
            raise FunnelError("the store holds no leads and no dated rows yet", hint="Import leads first")
        if as_of is None:  # no dated row: the sections that need no dates, with a note on the others
            report = undated_metrics_report(con, ladder=args.ladder, settings=settings, by=by,
                                            window_days=args.window_days)
        else:
            filters = Filters(as_of=as_of, ladder=args.ladder, period_start=args.period_start,
                              period_end=args.period_end)
            report = metrics_report(con, filters, settings=settings, by=by, window_days=args.window_days)
    if args.format == "json":
        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(csv_bytes(report_table(report)))
    return 0


def leads_arguments(p: argparse.ArgumentParser) -> None:

    db_argument(p)
    engine_arguments(p)
    config_argument(p)
    p.add_argument("--as-of", type=_day, default=None, help="compute as of the end of this day (YYYY-MM-DD; "
                   "default: the newest timestamp in the data)")
    p.add_argument("--format", choices=("csv", "json"), required=True)


@command("leads", leads_arguments)
def run_leads(args: argparse.Namespace) -> int:
    """Every lead with its funnel stage and evidence, fit, intent, quadrant, tags, next owner and action."""
    import json

    import polars as pl

    from funnel.errors import FunnelError
    from funnel.export import csv_bytes
    from funnel.model.history import newest_day
    from funnel.model.matrix import fit_data_note
    from funnel.model.scoring import leads_report
    from funnel.store.settings_versions import settings_in_force

    with _engine_connection(args) as con:
        settings = settings_in_force(con, args.config)
        as_of = args.as_of or newest_day(con)
        if as_of is None:
            raise FunnelError("the store holds no dated rows yet", hint="Import leads and activities first")
        report = leads_report(con, settings=settings, as_of=as_of).with_columns(pl.col("intent_score").round(2))
        fit_note = fit_data_note(con, settings=settings, as_of=as_of)
    if fit_note:
        print(f"note: {fit_note}", file=sys.stderr)
    if args.format == "json":
        sys.stdout.write(json.dumps(report.to_dicts(), ensure_ascii=False, default=lambda v: v.isoformat()) + "\n")
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(csv_bytes(report.with_columns(pl.col("tags").list.join("; "))))
    return 0


@contextmanager
def _engine_connection(args: argparse.Namespace) -> Iterator:
    """The connection of the engine a command asked for (--engine, $FUNNEL_ENGINE, else DuckDB on --db),
    closed when the block ends."""
    from funnel.engine import engine_name, open_engine

    engine = open_engine(engine_name(args.engine), db=args.db, data=args.data)
    try:
        yield engine.connection
    finally:
        engine.close()


def export_tables_arguments(p: argparse.ArgumentParser) -> None:
    db_argument(p)
    p.add_argument("--out", type=Path, required=True, help="the folder to write one <table>.parquet per table into")


@command("export-tables", export_tables_arguments)
def run_export_tables(args: argparse.Namespace) -> int:
    """Every table of a DuckDB store as Parquet, for the Spark engine (`--engine spark --data DIR`)."""
    from funnel.engine.parquet import write_tables
    from funnel.store.db import connect

    con = connect(args.db, read_only=True)
    try:
        written = write_tables(con, args.out)
    finally:
        con.close()
    for name, rows in written.items():
        print(f"{name:<20} {rows:>12,} rows")
    print(f"wrote {len(written)} tables to {args.out}")
    return 0


def _as_of_of(con, as_of):
    """`as_of`, else the newest day in the store (an error when it holds no dated rows)."""
    from funnel.model.history import newest_day

    day = as_of or newest_day(con)
    if day is None:
        raise FunnelError("the store holds no dated rows yet", hint="Import leads and activities first")
    return day


def rules_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("check",), help="check: lint the routing rules against the leads")
    db_argument(p)
    engine_arguments(p)
    config_argument(p)
    p.add_argument("--as-of", type=_day, default=None, help="lint the leads as of this day (default: newest)")
    p.add_argument("--format", choices=("text", "json", "csv"), default="text",
                   help="text: rules and findings; json: also the leads behind each finding; csv: those leads")


@command("rules", rules_arguments)
def run_rules(args: argparse.Namespace) -> int:
    """The routing rule lint: uncovered leads, leads two rules claim, dead rules, capacity, territories.
    Exit status 1 when a lead is uncovered or a rule matches nothing."""
    import json

    from funnel.analyses.routing import NOTHING, UNCOVERED, routing_inputs, routing_lint
    from funnel.export import csv_bytes
    from funnel.store.settings_versions import settings_in_force

    with _engine_connection(args) as con:
        settings = settings_in_force(con, args.config)
        as_of = _as_of_of(con, args.as_of)
        lint = routing_lint(routing_inputs(con, settings=settings, as_of=as_of), settings=settings)
    if args.format == "json":
        sys.stdout.write(json.dumps({k: v.to_dicts() for k, v in lint.items()}, ensure_ascii=False) + "\n")
    elif args.format == "csv":
        sys.stdout.flush()
        sys.stdout.buffer.write(csv_bytes(lint["finding_leads"]))
    else:
        print(f"Routing rules as of {as_of} (first match wins):")
        for r in lint["rules"].iter_rows(named=True):
            print(f"  {r['position']:>2}. {r['rule']:<40} {r['team']:<18} matches {r['matches']:>7}  "
                  f"wins {r['wins']:>7}  loses {r['loses']:>7}")
        findings = lint["findings"]
        print(f"{findings.height} finding(s):" if findings.height else "No findings.")
        for f in findings.iter_rows(named=True):
            print(f"  [{f['kind']}] {f['subject']}: {f['leads']} lead(s): {f['detail']}")
    serious = lint["findings"].filter(lint["findings"]["kind"].is_in([UNCOVERED, NOTHING])).height
    return 1 if serious else 0


def alerts_arguments(p: argparse.ArgumentParser) -> None:
    db_argument(p)
    engine_arguments(p)
    config_argument(p)
    p.add_argument("--as-of", type=_day, default=None, help="alerts as of this day (default: newest)")
    p.add_argument("--since", default="LAST_IMPORT",
                   help="LAST_IMPORT (default: what the latest import brought) or a day YYYY-MM-DD")
    p.add_argument("--format", choices=("csv", "json"), default="csv")
    p.add_argument("--per-owner", type=Path, default=None, help="also write one CSV per owner into this folder")
    p.add_argument("--webhook", default=None, help="POST the alerts as JSON to this http(s) URL")


@command("alerts", alerts_arguments)
def run_alerts(args: argparse.Namespace) -> int:
    """The leads that newly meet an alert rule since the last import (or a day), with their owner."""
    import json
    from datetime import datetime, time

    from funnel.analyses.routing import import_alerts, since_last_import
    from funnel.export import csv_bytes, download_name
    from funnel.store.settings_versions import settings_in_force

    with _engine_connection(args) as con:
        settings = settings_in_force(con, args.config)
        as_of = _as_of_of(con, args.as_of)
        if args.since == "LAST_IMPORT":
            since = since_last_import(con)
        else:
            since = datetime.combine(_day_or_fail(args.since, "--since"), time())
        alerts = import_alerts(con, settings=settings, as_of=as_of, since=since)
    rows = alerts.to_dicts()
    if args.webhook:
        post_json(args.webhook, {"as_of": as_of.isoformat(), "since": since.isoformat() if since else None,
                                 "alerts": rows})
    if args.per_owner:
        args.per_owner.mkdir(parents=True, exist_ok=True)
        for (owner,), part in alerts.partition_by("owner", as_dict=True).items():
            name = download_name(f"alerts_{owner or 'no_owner'}", as_of=as_of, ext="csv")
            (args.per_owner / name).write_bytes(csv_bytes(part))
    if args.format == "json":
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, default=lambda v: v.isoformat()) + "\n")
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(csv_bytes(alerts))
    return 0


def _day_or_fail(text: str, option: str):
    try:
        return _day(text)
    except argparse.ArgumentTypeError:
        raise FunnelError(f"{option} must be LAST_IMPORT or a day YYYY-MM-DD", value=text) from None


def post_json(url: str, payload: dict) -> None:
    """POST `payload` as JSON to an http(s) URL; a clear error when it fails."""
    import json
    import urllib.error
    import urllib.request
    from urllib.parse import urlsplit

    if urlsplit(url).scheme not in ("http", "https"):
        raise FunnelError("the webhook must be an http:// or https:// URL", value=url)
    body = json.dumps(payload, ensure_ascii=False, default=lambda v: v.isoformat()).encode("utf-8")
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            response.read()
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise FunnelError(f"the webhook did not accept the alerts: {exc}", value=url,
                          hint="Check the URL and that the service is up") from None


def export_arguments(p: argparse.ArgumentParser) -> None:
    db_argument(p)
    engine_arguments(p)
    config_argument(p)
    p.add_argument("--tool", choices=("hubspot", "salesforce", "klaviyo", "mailchimp"), required=True)
    p.add_argument("--as-of", type=_day, default=None, help="route the leads as of this day (default: newest)")
    p.add_argument("--rule", default=None, help="only leads the named routing rule gave owner and action")
    p.add_argument("--team", default=None, help="only leads routed to this team")
    p.add_argument("--owner", default=None, help="only leads routed to this owner")
    p.add_argument("--track", default=None, help="only leads on this nurture track")
    p.add_argument("--stage", default=None, help="only leads at this funnel stage")
    p.add_argument("--quadrant", default=None, help="only leads in this fit × intent quadrant")
    p.add_argument("--out", type=Path, required=True, help="the CSV file to write")


@command("export", export_arguments)
def run_export(args: argparse.Namespace) -> int:
    """A segment, queue or track as an import file for HubSpot, Salesforce, Klaviyo or Mailchimp."""
    from funnel.analyses.routing import routing_inputs
    from funnel.analyses.tool_exports import lead_names, segment_of, tool_export
    from funnel.export import csv_bytes
    from funnel.store.settings_versions import settings_in_force

    with _engine_connection(args) as con:
        settings = settings_in_force(con, args.config)
        as_of = _as_of_of(con, args.as_of)
        leads = routing_inputs(con, settings=settings, as_of=as_of)
        names = lead_names(con)
    chosen = segment_of(leads, {"route_rule": args.rule, "team": args.team, "next_owner": args.owner,
                                "track": args.track, "funnel_stage": args.stage, "quadrant": args.quadrant})
    table, left_out = tool_export(chosen, names, tool=args.tool)
    args.out.write_bytes(csv_bytes(table))
    note = f" ({left_out} without an e-mail address left out)" if left_out else ""
    print(f"{args.out}: {table.height} lead(s) for {args.tool}{note}")
    return 0


def hygiene_arguments(p: argparse.ArgumentParser) -> None:
    db_argument(p)
    config_argument(p)
    p.add_argument("--as-of", type=_day, default=None, help="audit as of the end of this day (default: newest data)")
    p.add_argument("--threshold", type=float, default=0.9, help="match probability from which a pair is a duplicate")
    p.add_argument("--survivor", choices=("oldest", "most_complete", "most_recent_activity"), default="oldest",
                   help="which lead a merge keeps")
    p.add_argument("--crm", choices=("hubspot", "salesforce"), default="hubspot", help="fix-file columns")
    p.add_argument("--out", type=Path, default=None, help="folder for the pairs, merges, findings and fix files")


@command("hygiene", hygiene_arguments)
def run_hygiene(args: argparse.Namespace) -> int:
    """CRM audit: duplicate people and companies (Splink, blocked), merge suggestions, standardisation
    findings; with --out, one CSV per finding and a fix file per table in the CRM's import columns."""
    from funnel.analyses.crm_audit import audited_hygiene, crm_audit
    from funnel.analyses.fix_files import fix_file_bytes
    from funnel.analyses.hygiene import identity_hygiene
    from funnel.export import csv_bytes
    from funnel.model.identity import identity_findings
    from funnel.store.db import connect
    from funnel.store.settings_versions import settings_in_force

    con = connect(args.db, read_only=True)
    try:
        settings = settings_in_force(con, args.config)
        as_of = _as_of_of(con, args.as_of)
        audit = crm_audit(con, as_of=as_of, threshold=args.threshold, person_survivor=args.survivor)
        checks = audited_hygiene(con, settings=settings, as_of=as_of, audit=audit)
        people = identity_hygiene(con, settings=settings)
        behind = identity_findings(con, settings=settings) if args.out and not people.is_empty() else None
        fixes = {t: fix_file_bytes(con, table=t, crm=args.crm) for t in ("leads", "accounts")} if args.out else {}
    finally:
        con.close()
    print(f"CRM audit as of {as_of}")
    for finding, now, before, change in audit.summary.iter_rows():
        since = f" (a month before: {before}, change {change:+d})" if before is not None else ""
        print(f"  {finding}: {now}{since}")
    for row in checks.iter_rows(named=True):
        share = "" if row["share"] is None else f", {row['share']:.1%}"
        print(f"  {row['check']}: {row['leads']} leads{share}, {row['kind']} (a month before: "
              f"{row['month_before']}, change {row['change']:+d}). {row['what_to_do']}")
    for row in people.iter_rows(named=True):
        print(f"  {row['finding']}: {row['keys']:,} ({row['with_intent']:,} with intent evidence, "
              f"{row['rows']:,} rows)")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        if behind is not None:
            (args.out / "people_across_tools.csv").write_bytes(csv_bytes(behind))
        for name in ("person_pairs", "company_pairs", "person_merges", "company_merges", "lead_findings",
                     "account_findings"):
            (args.out / f"{name}.csv").write_bytes(csv_bytes(getattr(audit, name)))
        for table, data in fixes.items():
            (args.out / f"{table}_fix_{args.crm}.csv").write_bytes(data)
        (args.out / "hygiene_checks.csv").write_bytes(csv_bytes(checks))
        print(f"wrote the findings and fix files to {args.out}")
    return 0


def capture_arguments(p: argparse.ArgumentParser) -> None:
    db_argument(p)
    config_argument(p)
    p.add_argument("--as-of", type=_day, default=None, help="audit as of the end of this day (default: newest data)")
    p.add_argument("--section", choices=("fill", "age", "forms", "lift"), default="fill",
                   help="fill rate by entry point, fill rate by lead age, form funnels, or each field's lift")
    p.add_argument("--by", choices=("source", "campaign", "url"), default="source", help="entry point (fill)")
    p.add_argument("--stage", default="sql", help="the lifecycle stage that counts as converted (lift)")


@command("capture", capture_arguments)
def run_capture(args: argparse.Namespace) -> int:
    """Capture audit as CSV on stdout: fill rate per segmentation field by entry point or lead age,
    form funnels (60% completion target marked), or each field's lift on conversion (Wilson
    intervals, Benjamini–Hochberg q-values)."""
    import polars as pl

    from funnel.analyses.capture import (
        capture_frame,
        field_conversion_lift,
        field_fill_rates,
        fill_by_age,
        fill_by_age_views,
        form_funnels,
        same_lead_fill,
    )
    from funnel.export import csv_bytes
    from funnel.store.db import connect
    from funnel.store.settings_versions import settings_in_force

    con = connect(args.db, read_only=True)
    try:
        settings = settings_in_force(con, args.config)
        as_of = _as_of_of(con, args.as_of)
        if args.section == "forms":
            table = form_funnels(con, as_of=as_of)
        else:
            captured = capture_frame(con, settings=settings, as_of=as_of, stage=args.stage)
            panel, note = same_lead_fill(con, captured, settings=settings, as_of=as_of)
            table = {"fill": lambda: field_fill_rates(captured, by=args.by),
                     "age": lambda: fill_by_age_views(fill_by_age(captured, as_of=as_of), panel),
                     "lift": lambda: field_conversion_lift(captured)}[args.section]()
    finally:
        con.close()
    sys.stdout.flush()
    sys.stdout.buffer.write(csv_bytes(table.with_columns(pl.col(pl.Float64).round(4))))
    if args.section == "age":  # what the same-lead rows rest on (or why there are none)
        print(note, file=sys.stderr)
    return 0


def report_arguments(p: argparse.ArgumentParser) -> None:
    db_argument(p)
    engine_arguments(p)
    config_argument(p)
    p.add_argument("--month", default=None, help="the calendar month to review, YYYY-MM (default: the last complete "
                   "month in the data)")
    p.add_argument("--as-of", type=_day, default=None, help="outcomes as of the end of this day (default: the newest "
                   "timestamp in the data)")
    p.add_argument("--ladder", choices=("lifecycle", "funnel"), default="lifecycle")
    p.add_argument("--by", default=None, help="a segment dimension for segment health and where to invest "
                   "(e.g. source)")
    p.add_argument("--out", type=Path, required=True, help="the file to write")
    p.add_argument("--format", choices=("html", "json"), default="html")


@command("report", report_arguments)
def run_report(args: argparse.Namespace) -> int:
    """The monthly review as one self-contained HTML file (charts embedded, works offline) or JSON."""
    import json

    from funnel.analyses.monthly import monthly_review, parse_month, where_to_invest
    from funnel.charts.monthly import figure_dicts, review_figures
    from funnel.display.report import data_provenance, review_document, review_html
    from funnel.model.history import lead_dimension_named, newest_day
    from funnel.store.settings_versions import settings_in_force

    month = parse_month(args.month) if args.month else None
    with _engine_connection(args) as con:
        settings = settings_in_force(con, args.config)
        as_of = args.as_of or newest_day(con)
        if as_of is None:
            raise FunnelError("the monthly review needs dates, and this store has none",
                              hint="Import leads with created_at, stage entries with entered_at, or deals with "
                                   "created_at/closed_at (map a date column of the export to one of them)")
        by = lead_dimension_named(con, args.by) if args.by else None
        review = monthly_review(con, settings=settings, as_of=as_of, month=month, ladder=args.ladder, by=by)
        invest = where_to_invest(con, settings=settings, as_of=as_of, by=by, ladder=args.ladder) if by else None
        from_file = settings.source != "defaults" and not settings.source.startswith("saved settings")
        source = f"settings file {settings.source}" if from_file else None  # else the store's version, or defaults
        document = review_document(review, invest=invest, provenance=data_provenance(con, settings_source=source))
    if args.format == "json":
        args.out.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
    else:
        args.out.write_text(review_html(document, figure_dicts(review_figures(review))), encoding="utf-8")
    print(f"monthly review of {document['month']} written to {args.out}")
    return 0


def review_sample_arguments(p: argparse.ArgumentParser) -> None:
    db_argument(p)
    engine_arguments(p)
    config_argument(p)
    p.add_argument("--from", dest="start", type=_day, default=None,
                   help="first day of the sampled period (default: the first day of the last complete month)")
    p.add_argument("--to", dest="end", type=_day, default=None, help="last day of the period (default: that month's "
                   "last day)")
    p.add_argument("--as-of", type=_day, default=None, help="stages as of the end of this day (default: the newest "
                   "timestamp in the data)")
    p.add_argument("--size", type=int, default=30, help="leads in the sample (default 30)")
    p.add_argument("--seed", type=int, default=7, help="random seed (same data, period, size and seed: same sample)")
    p.add_argument("--out", type=Path, required=True, help="the file to write: the sample with current verdicts")
    p.add_argument("--format", choices=("csv", "json"), default="csv")


@command("review-sample", review_sample_arguments)
def run_review_sample(args: argparse.Namespace) -> int:
    """The handoff review sample (MQLs, SQLs and opportunities of a period) with the verdicts given so far."""
    import json

    from funnel.analyses.monthly import last_complete_month, month_end
    from funnel.analyses.review_sample import (
        review_disagreements,
        review_sample,
        sample_id,
        sample_with_verdicts,
        verdict_summary,
        verdicts,
    )
    from funnel.export import csv_bytes
    from funnel.store.settings_versions import settings_in_force

    with _engine_connection(args) as con:
        settings = settings_in_force(con, args.config)
        as_of = _as_of_of(con, args.as_of)
        start = args.start or last_complete_month(as_of)
        end = args.end or month_end(start)
        sample = review_sample(con, settings=settings, as_of=as_of, start=start, end=end, size=args.size,
                               seed=args.seed)
        name = sample_id(start, end, size=args.size, seed=args.seed)
        current = verdicts(con, sample=name)
    full = sample_with_verdicts(sample, current)
    if args.format == "json":
        args.out.write_text(json.dumps(full.to_dicts(), ensure_ascii=False, default=str, indent=1), encoding="utf-8")
    else:
        args.out.write_bytes(csv_bytes(full))
    print(f"sample {name}: {sample.height} leads written to {args.out}")
    for row in verdict_summary(current).iter_rows(named=True):
        share = "-" if row["share_right"] is None else f"{row['share_right']:.0%}"
        print(f"  {row['question']}: {row['judged_right']} of {row['verdicts']} verdicts ({share})")
    for sentence in review_disagreements(sample, current).get_column("sentence").to_list():
        print(f"  {sentence}")
    return 0


def load_sample_arguments(p: argparse.ArgumentParser) -> None:
    db_argument(p)
    config_argument(p)


@command("load-sample", load_sample_arguments)
def run_load_sample(args: argparse.Namespace) -> int:
    """Load the bundled sample (sample_data/) into a database that never had an import (`make run` does this)."""
    from funnel.ingest.upload import load_sample_into_empty_store
    from funnel.model.build import rebuild_model
    from funnel.store.db import connect, default_db_path
    from funnel.store.settings_versions import settings_in_force
    from funnel.store.status import import_count

    path = Path(args.db or default_db_path())
    if path.is_file():  # read-only first: a database in use by the dashboard is left alone when it holds data
        con = connect(path, read_only=True)
        try:
            if import_count(con):
                print(f"{path}: already holds imports; the sample is not loaded")
                return 0
        finally:
            con.close()
    con = connect(path)
    try:
        settings = settings_in_force(con, args.config)
        loaded = load_sample_into_empty_store(con, settings=settings)
        if loaded:
            rebuild_model(con, settings=settings)
    finally:
        con.close()
    print(f"{path}: {'loaded the bundled sample' if loaded else 'already holds imports; the sample is not loaded'}")
    return 0


def deals_arguments(p: argparse.ArgumentParser) -> None:
    db_argument(p)
    engine_arguments(p)
    config_argument(p)
    p.add_argument("--as-of", type=_day, default=None, help="deals as of the end of this day (YYYY-MM-DD; default: "
                   "the newest timestamp in the data)")
    p.add_argument("--by", default="industry", help="an account column (industry, size_band, country, account_id), "
                   "a deal column (product, owner, pipeline), the lead's source, or a custom attribute of the "
                   "accounts by its plain name or as attr:NAME (default: industry)")
    p.add_argument("--format", choices=("json", "csv"), default="json")


@command("deals", deals_arguments)
def run_deals(args: argparse.Namespace) -> int:
    """Deals by their account's attributes: win rate with its interval, cycle length and open-deal age."""
    import json

    from funnel.analyses.deals import (
        deal_dimension_named,
        deal_performance,
        only_wins_note,
        undated_deals,
        undated_deals_text,
    )
    from funnel.analyses.report import json_ready
    from funnel.export import csv_bytes
    from funnel.store.settings_versions import settings_in_force

    with _engine_connection(args) as con:
        settings = settings_in_force(con, args.config)
        as_of = _as_of_of(con, args.as_of)
        by = deal_dimension_named(con, args.by)
        table = deal_performance(con, settings=settings, as_of=as_of, by=by)
        notes = [n for n in (only_wins_note(table), undated_deals_text(undated_deals(con))) if n]
    if args.format == "json":
        rows = [{"segment": row[by], **{k: json_ready(v) for k, v in row.items() if k != by}}
                for row in table.iter_rows(named=True)]
        document = {"as_of": as_of.isoformat(), "by": by, "notes": notes, "deals": rows}
        sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")
    else:
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        sys.stdout.flush()
        sys.stdout.buffer.write(csv_bytes(table))
    return 0
