"""The dashboard's import write, run in a limited child process.

The dashboard never validates or writes an upload in its own process: `imported_in_child` runs
`import_batch` (one parse worker for the batch, each file written as soon as it is valid, one
transaction for all) in a child under the same memory limit and timeout as the parse worker
(`funnel.ingest.worker.run_limited`). The child opens the database file itself, so the caller must
hold no connection to it meanwhile. Only the per-file results (a few numbers and notes) come back,
as JSON, with progress lines while it runs; a hostile file can cost only the child.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from funnel.config import Settings
from funnel.ingest.importer import BatchFile, ImportResult, import_batch
from funnel.ingest.mapping import Mapping
from funnel.ingest.worker import report_progress, run_limited, serve_limited
from funnel.store.db import connect


def imported_in_child(db: Path, files: list[BatchFile], *, settings: Settings, saved: tuple[Mapping, ...] = (),
                      by: str | None = None, now: datetime | None = None,
                      progress: Callable[[str, float], None] | None = None) -> list[ImportResult]:
    """The results of importing `files` into the database at `db` as one batch, written by a limited child
    process (all or nothing; its FunnelError is raised here)."""
    request = {"name": ", ".join(f.name or Path(f.path).name for f in files)[:200], "db": str(Path(db).resolve()),
               "files": files, "settings": settings, "saved": saved, "by": by, "now": now}
    with run_limited("funnel.ingest.import_job", request, name=request["name"], progress=progress) as (meta, _):
        return [ImportResult(**{**r, "warnings": tuple(r["warnings"])}) for r in meta["results"]]


def written_job(request: dict, work: Path) -> dict:
    """The child's side of `imported_in_child`."""
    con = connect(request["db"])
    try:
        results = import_batch(con, request["files"], settings=request["settings"], saved=request["saved"],
                               by=request["by"], now=request["now"], progress=report_progress)
    finally:
        con.close()
    return {"results": [asdict(r) for r in results]}


if __name__ == "__main__":
    sys.exit(serve_limited(Path(sys.argv[1]), written_job))
