"""Vendor presets: mapping files shipped in funnel/presets/, recognised from a file's header."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from funnel.errors import MappingError
from funnel.ingest.mapping import FileMapping, Mapping, load_mapping
from funnel.schema import normalise_name

PRESET_DIR = Path(__file__).with_name("presets")


@cache
def all_presets() -> tuple[Mapping, ...]:
    """Every shipped preset, by file name order."""
    return tuple(load_mapping(p) for p in sorted(PRESET_DIR.glob("*.toml")))


def preset_for(name: str) -> Mapping:
    """The preset called `name` (its file name without .toml)."""
    path = PRESET_DIR / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(p.stem for p in sorted(PRESET_DIR.glob("*.toml"))) or "none"
        raise MappingError(f"there is no preset {name!r}", hint=f"Known presets: {known}")
    return load_mapping(path)


def recognised_preset(headers: list[str]) -> tuple[Mapping, FileMapping] | None:
    """The preset section whose match columns all appear in `headers` (the most specific wins)."""
    normalised = {normalise_name(h) for h in headers}
    best: tuple[int, Mapping, FileMapping] | None = None
    for preset in all_presets():
        for section in preset.files:
            if section.matches(normalised) and (best is None or len(section.match) > best[0]):
                best = (len(section.match), preset, section)
    return (best[1], best[2]) if best else None
