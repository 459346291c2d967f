"""The dashboard under Streamlit's AppTest: an app on a given database, and a store holding the sample."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]


def app(db: Path, monkeypatch, *, sample: bool) -> AppTest:
    """The app on database `db`; with `sample`, an empty store loads the bundled sample as `make run` does."""
    monkeypatch.setenv("FUNNEL_DB", str(db))
    monkeypatch.setenv("FUNNEL_LOAD_SAMPLE", "1" if sample else "0")
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)


def loaded_sample(folder: Path) -> Path:
    """A store holding the bundled sample, loaded the way `make run` loads it."""
    db = folder / "sample.duckdb"
    mp = pytest.MonkeyPatch()
    try:
        at = app(db, mp, sample=True)
        at.run()
        assert not at.exception
    finally:
        mp.undo()
    return db


def copied(db: Path, to: Path) -> Path:
    """A copy of a store another AppTest of this process may still hold open (its write-ahead log too)."""
    shutil.copy(db, to)
    wal = db.with_name(db.name + ".wal")
    if wal.exists():
        shutil.copy(wal, to.with_name(to.name + ".wal"))
    return to
