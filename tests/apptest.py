"""The dashboard under Streamlit's AppTest: an app on a given database, and copies of a store."""

from __future__ import annotations

import shutil
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]


def app(db: Path, monkeypatch, *, sample: bool) -> AppTest:
    """The app on database `db`; with `sample`, an empty store loads the bundled sample as `make run` does."""
    monkeypatch.setenv("FUNNEL_DB", str(db))
    monkeypatch.setenv("FUNNEL_LOAD_SAMPLE", "1" if sample else "0")
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)


def copied(db: Path, to: Path) -> Path:
    """A copy of a store another AppTest of this process may still hold open (its write-ahead log too)."""
    shutil.copy(db, to)
    wal = db.with_name(db.name + ".wal")
    if wal.exists():
        shutil.copy(wal, to.with_name(to.name + ".wal"))
    return to
