"""Aging as a person reads it."""

from __future__ import annotations

from funnel.config import Settings
from funnel.display.labels import stage_label


def sla_text(settings: Settings) -> str | None:
    """The stage SLAs in force as one line ("SLAs (days): mql 5, sql 14"), or None when none is set."""
    sla = settings.aging.sla_days
    return "SLAs (days): " + ", ".join(f"{stage_label(stage)} {days}" for stage, days in sla.items()) if sla else None
