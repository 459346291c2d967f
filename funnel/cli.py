"""The `funnel` command: import exports, inspect the store, generate sample data, compute metrics.

Every user mistake ends in one line on stderr naming file, row, column and reason, and a
non-zero exit; never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from funnel.errors import FunnelError

Command = Callable[[argparse.Namespace], int]
COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Command]] = {}


def command(name: str, arguments: Callable[[argparse.ArgumentParser], None]) -> Callable[[Command], Command]:
    """Registers a subcommand: its argument definitions and the function that runs it."""
    def register(run: Command) -> Command:
        COMMANDS[name] = (arguments, run)
        return run
    return register


def db_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path, default=None,
                        help="database file (default: $FUNNEL_DB or data/funnel.duckdb)")


def config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=None,
                        help="settings file merged over the defaults (default: $FUNNEL_CONFIG)")


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
    from funnel.db import connect
    from funnel.importer import prepare_import, write_imports
    from funnel.mapping import load_mapping
    from funnel.presets import preset_for

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
        for result in write_imports(con, prepared):
            print(result.summary())
            for warning in result.warnings:
                print(f"  note: {warning}")
    finally:
        con.close()
    return 0


def saved_mappings_of(db: Path | None) -> tuple:
    """The mappings saved on the Data page of this database (none when it does not exist yet)."""
    from funnel.db import connect, default_db_path
    from funnel.mapping_guess import saved_mappings

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
    from funnel.db import connect
    from funnel.inventory import store_summary

    con = connect(args.db, read_only=True)
    try:
        summary = store_summary(con)
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
    from funnel.sample import write_sample

    if args.leads < 1:
        raise FunnelError("--leads must be at least 1", value=str(args.leads))
    paths = write_sample(args.out, leads=args.leads, seed=args.seed, fmt=args.format)
    for table, path in paths.items():
        print(f"{table}: {path}")
    return 0


def registered() -> dict[str, tuple[Callable[[argparse.ArgumentParser], None], Command]]:
    """Every subcommand, as registered in the `funnel.cli` module (also when this file runs as __main__)."""
    import funnel.cli  # noqa: PLW0406  (the registry, also when this file runs as __main__)
    import funnel.commands

    return funnel.cli.COMMANDS


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="funnel", description="Lead-funnel segmentation: import, inspect, measure.")
    subs = top.add_subparsers(dest="command", required=True)
    for name, (arguments, run) in registered().items():
        sub = subs.add_parser(name, help=(run.__doc__ or "").strip().split("\n")[0] or None)
        arguments(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return registered()[args.command][1](args)
    except FunnelError as exc:
        print(f"funnel {args.command}: {exc.message()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("funnel: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
