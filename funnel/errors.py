"""The errors a user can cause, each carrying where it happened and what to do about it.

Pages and the CLI catch only `FunnelError`; anything else is a bug and is allowed to surface.
Messages are built from these structured fields, never from a library's own message, so no file
path of the server and no raw line of personal data leaks into the UI.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field


@dataclass
class FunnelError(Exception):
    reason: str
    file: str | None = None
    row: int | None = None  # spreadsheet row number: the header is row 1
    line: int | None = None  # physical line in a text file, when that is what the parser knows
    column: str | None = None
    value: str | None = None
    hint: str = ""
    details: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.message())

    def message(self) -> str:
        """One line: where, what, and what to do."""
        where = [printable(self.file) if self.file else None,
                 f"row {self.row}" if self.row is not None else None,
                 f"line {self.line}" if self.line is not None else None,
                 f"column {self.column!r}" if self.column else None]
        place = ", ".join(p for p in where if p)
        text = f"{place}: {self.reason}" if place else self.reason
        if self.value is not None:
            text += f" (value {shorten(self.value)!r})"
        if self.hint:
            text += f". {self.hint}"
        return text

    def __str__(self) -> str:
        return self.message()


class ExportFormatError(FunnelError):
    """The file cannot be read as the format it claims (binary, encoding, quoting, ragged rows)."""


class ValidationError(FunnelError):
    """The file parsed, but its rows break the table's column contract."""


class MappingError(FunnelError):
    """A mapping file is invalid, or does not fit the export it is applied to."""


class ConfigError(FunnelError):
    """A setting in funnel.toml is invalid."""


class StoreError(FunnelError):
    """The database cannot do what was asked (missing import, locked file)."""


class EngineError(FunnelError):
    """The engine asked for cannot run (not installed, no Java, no data): never a fall back to another."""


def printable(text: str) -> str:
    """Text safe to print on one terminal line: control, format (bidi, zero-width) and line-separator
    characters written as escapes (\\n, \\x1b, \\u202e), so a file name cannot forge output lines."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") or (not ch.isprintable() and ch != " "):
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out)


def shorten(value: str, limit: int = 60) -> str:
    """A value cut to a readable length for an error line, its invisible characters escaped."""
    flat = printable(value)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
