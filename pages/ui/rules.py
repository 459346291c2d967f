"""The Rules page's writes, each checked against the person's role right before it writes: a draft kept
per person (analysts and admins), a new settings version saved with its author, who saved it and a note
(admins), someone's draft saved as the newest version (admins), an earlier version brought back (admins).
Each saved version builds the lead model for itself in the same write, so the next page view reads it."""

from __future__ import annotations

import polars as pl

from funnel.access import Action
from funnel.store import settings_versions as versions
from pages.ui.access import current_person, require
from pages.ui.store import ensure_model_with_progress, opened, settings_for, writing


def texts() -> tuple[str, str | None, pl.DataFrame, pl.DataFrame]:
    """(the saved settings in force, this person's draft or None, the saved versions, everyone's drafts)."""
    person = current_person()
    with opened() as con:
        mine = versions.draft_text(con, person.label) if person else None
        return versions.active_text(con), mine, versions.saved_versions(con), versions.drafts(con)


def save_version(text: str, note: str) -> int:
    """`text` saved as the newest version by this admin (their own draft, if any, is then dropped)."""
    person = require(Action.SAVE_RULES)
    with writing() as con:
        number = versions.save_version(con, text, note=note, author=person.label)
        versions.discard_draft(con, person.label)
        ensure_model_with_progress(con, settings_for(text))
    return number


def keep_draft(text: str) -> None:
    person = require(Action.DRAFT_RULES)
    with writing() as con:
        versions.save_draft(con, text, author=person.label)


def discard_draft() -> None:
    person = require(Action.DRAFT_RULES)
    with writing() as con:
        versions.discard_draft(con, person.label)


def save_draft_of(author: str, note: str) -> int:
    """Someone's draft saved as the newest version (author: them; saved by: this admin)."""
    person = require(Action.SAVE_RULES)
    with writing() as con:
        number = versions.save_draft_as_version(con, author, note=note, saved_by=person.label)
        ensure_model_with_progress(con, settings_for(versions.active_text(con)))
    return number
