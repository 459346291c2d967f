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
