"""The shared filters every analysis takes: one frozen, hashable value built by the UI or the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from funnel.schema import LADDERS, LIFECYCLE


@dataclass(frozen=True)
class Filters:
    """As of which day, on which ladder, for which period of stage entries and which segment values."""

    as_of: date
    ladder: str = LIFECYCLE
    period_start: date | None = None  # first day of the entries that form conversion cohorts
    period_end: date | None = None  # last day (inclusive); None = up to as_of
    segments: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())  # (dimension, allowed values)

    def __post_init__(self) -> None:
        if self.ladder not in LADDERS:
            raise ValueError(f"unknown ladder {self.ladder!r}")

    @property
    def cohort_end(self) -> date:
        """The last day of the cohort period (never after as_of)."""
        return min(self.period_end, self.as_of) if self.period_end else self.as_of

    def segment_values(self) -> dict[str, tuple[str, ...]]:
        return dict(self.segments)


def until(as_of: date) -> datetime:
    """The first moment after day D: everything before it happened "at D" (the end of day D)."""
    return datetime.combine(as_of + timedelta(days=1), time())
