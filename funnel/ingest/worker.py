"""Runs the work on untrusted files in a child process with memory and time limits.

DuckDB, Arrow and calamine treat the files they read as trusted: a crafted file may crash the
process or allocate without bound, and even a well-formed file can expand far beyond its size
while it is parsed and validated. So the dashboard and the CLI never do that work themselves.
`run_limited` starts `python -m <module> REQUEST` under an address-space limit and a timeout; the
child reads the file, does its job (parse only: this module; parse, map and validate:
`funnel.ingest.importer`), writes its tables as Arrow IPC files and a JSON description, and exits.
A crash, an out-of-memory kill or a timeout costs only the child, and the caller gets a
`FunnelError`.

The request travels to the child pickled (the parent wrote it, the child trusts its parent); the
answer travels back only as Arrow IPC and JSON (the parent never unpickles what a child that read a
hostile file produced).
"""

from __future__ import annotations

import json
import os
import pickle
import resource
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa

from funnel.errors import (
    ConfigError,
    ExportFormatError,
    FunnelError,
    MappingError,
    StoreError,
    ValidationError,
)
from funnel.ingest.readers import ParsedFile, read_export

DEFAULT_TIMEOUT_S = float(os.environ.get("FUNNEL_WORKER_TIMEOUT", "600"))
DEFAULT_MEMORY_MB = int(os.environ.get("FUNNEL_WORKER_MEMORY_MB", "8192"))
ERROR_KINDS: dict[str, type[FunnelError]] = {cls.__name__: cls for cls in (
    FunnelError, ExportFormatError, ValidationError, MappingError, ConfigError, StoreError)}


@contextmanager
def run_limited(module: str, request: dict, *, name: str, timeout_s: float = DEFAULT_TIMEOUT_S,
                memory_mb: int = DEFAULT_MEMORY_MB) -> Iterator[tuple[dict, Path]]:
    """Runs `python -m module` on `request` in a limited child; yields its JSON answer and the folder
    holding the files it wrote (removed afterwards). A child's FunnelError is raised here."""
    work = Path(tempfile.mkdtemp(prefix="funnel-worker-"))
    try:
        (work / "request.pickle").write_bytes(pickle.dumps({**request, "work": str(work)}))
        limit = memory_mb * 1024 * 1024
        env = {**os.environ, "POLARS_MAX_THREADS": "2"}
        try:
            proc = subprocess.run(
                [sys.executable, "-m", module, str(work / "request.pickle")],
                check=False, capture_output=True, timeout=timeout_s, env=env,
                preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)),
            )
        except subprocess.TimeoutExpired:
            raise ExportFormatError(f"reading the file took longer than {timeout_s:.0f} s and was stopped",
                                    file=name, hint="Split the export into smaller files") from None
        meta_path = work / "meta.json"
        if not meta_path.exists():
            raise ExportFormatError("the file could not be read: the reader stopped unexpectedly "
                                    f"(exit code {proc.returncode})", file=name,
                                    hint="The file may be corrupt or too large for memory; export it again")
        meta = json.loads(meta_path.read_text())
        if "error" in meta:
            err = dict(meta["error"])
            kind = ERROR_KINDS.get(err.pop("kind", ""), ExportFormatError)
            raise kind(**err)
        yield meta, work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def serve_limited(request_path: Path, job: Callable[[dict, Path], dict]) -> int:
    """The child's side: run `job(request, work)`, which writes its tables into `work` and returns the
    JSON description; a FunnelError or running out of memory is written as the answer instead."""
    request = pickle.loads(Path(request_path).read_bytes())
    work = Path(request["work"])
    meta_path = work / "meta.json"
    try:
        meta = job(request, work)
    except FunnelError as exc:
        meta_path.write_text(json.dumps({"error": {"kind": type(exc).__name__, **asdict(exc)}}))
        return 0
    except MemoryError:
        meta_path.write_text(json.dumps({"error": {"reason": "the file needs more memory than the import may use",
                                                   "file": request["name"],
                                                   "hint": "Split the export into smaller files"}}))
        return 0
    meta_path.write_text(json.dumps(meta))
    return 0


def parse_untrusted(path: Path, *, name: str | None = None, sheet: str | None = None,
                    header_row: int | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
                    memory_mb: int = DEFAULT_MEMORY_MB) -> ParsedFile:
    """The parsed export at `path`, read by a limited child process."""
    name = name or Path(path).name
    request = {"path": str(Path(path).resolve()), "name": name, "sheet": sheet, "header_row": header_row}
    with run_limited("funnel.ingest.worker", request, name=name, timeout_s=timeout_s,
                     memory_mb=memory_mb) as (meta, work), pa.memory_map(str(work / "table.arrow")) as source:
        table = pa.ipc.open_file(source).read_all()
    meta.pop("kind", None)
    return ParsedFile(table=table, **meta)


def parsed_job(request: dict, work: Path) -> dict:
    """Parse one file; the table goes to table.arrow."""
    parsed = read_export(Path(request["path"]), name=request["name"], sheet=request["sheet"],
                         header_row=request["header_row"])
    with pa.OSFile(str(work / "table.arrow"), "wb") as sink, pa.ipc.new_file(sink, parsed.table.schema) as writer:
        writer.write_table(parsed.table)
    return {k: v for k, v in vars(parsed).items() if k != "table"}


if __name__ == "__main__":
    sys.exit(serve_limited(Path(sys.argv[1]), parsed_job))
