"""The shared filters every analysis takes: one frozen, hashable value built by the UI or the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from funnel.errors import FunnelError
from funnel.schema import LADDERS, LIFECYCLE

# The days any entry point accepts (CLI options, the sidebar, imported values): outside them a date
# is a typo or a placeholder such as 9999-12-31, and day arithmetic would overflow.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2200, 12, 31)


def checked_day(day: date, *, what: str = "the date") -> date:
    """`day` when it lies within FIRST_DAY..LAST_DAY; a FunnelError naming `what` otherwise."""
    plain = day.date() if isinstance(day, datetime) else day
    if not FIRST_DAY <= plain <= LAST_DAY:
        raise FunnelError(f"{what} {plain.isoformat()} is outside the years {FIRST_DAY.year}–{LAST_DAY.year}",
                          value=plain.isoformat(), hint="Use a real calendar date (YYYY-MM-DD)")
    return day


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
        checked_day(self.as_of, what="the as-of date")
        for day, what in ((self.period_start, "the period start"), (self.period_end, "the period end")):
            if day is not None:
                checked_day(day, what=what)

    @property
    def cohort_end(self) -> date:
        """The last day of the cohort period (never after as_of)."""
        return min(self.period_end, self.as_of) if self.period_end else self.as_of

    def segment_values(self) -> dict[str, tuple[str, ...]]:
        return dict(self.segments)


def until(as_of: date) -> datetime:
    """The first moment after day D: everything before it happened "at D" (the end of day D)."""
    return datetime.combine(as_of + timedelta(days=1), time())


def as_of_within(asked: date, *, first: date, last: date) -> tuple[date, str | None]:
    """`asked` moved into the data's days `first`..`last`, with a plain note saying so when it was moved."""
    if asked > last:
        return last, (f"The as-of date {asked.isoformat()} is after the newest data ({last.isoformat()}): "
                      f"the numbers are as of {last.isoformat()}.")
    if asked < first:
        return first, (f"The as-of date {asked.isoformat()} is before the oldest data ({first.isoformat()}): "
                       f"the numbers are as of {first.isoformat()}.")
    return asked, None
