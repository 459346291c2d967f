"""The registry of `funnel` subcommands and the arguments several of them share."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

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
                        help="settings file merged over the defaults, for this run (default: the rules saved on "
                             "the Rules page, as the pages use them, else $FUNNEL_CONFIG, else the defaults)")


def engine_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine", choices=("duckdb", "spark"), default=None,
                        help="where the computation runs (default: $FUNNEL_ENGINE, else duckdb)")
    parser.add_argument("--data", default=None,
                        help="spark: the tables' Parquet folder (funnel export-tables) or catalog:<database> "
                             "(default: $FUNNEL_SPARK_DATA)")
