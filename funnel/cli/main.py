"""The `funnel` command: import exports, inspect the store, generate sample data, compute metrics.

Every user mistake ends in one line on stderr naming file, row, column and reason, and a
non-zero exit; never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from funnel.cli import commands  # noqa: F401  (registers every subcommand)
from funnel.cli.registry import COMMANDS, Command
from funnel.errors import FunnelError


def registered() -> dict[str, tuple[Callable[[argparse.ArgumentParser], None], Command]]:
    """Every subcommand, as registered by `funnel.cli.commands`."""
    return COMMANDS


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
