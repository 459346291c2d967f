"""Parses untrusted files in a child process with memory and time limits.

DuckDB, Arrow and calamine treat the files they read as trusted: a crafted file may crash the
process or allocate without bound. So the dashboard and the CLI never parse an upload
themselves. They start `python -m funnel.ingest.worker REQUEST`, which reads the file, writes the
parsed table as an Arrow IPC file, and exits. A crash, an out-of-memory kill or a timeout costs
only the worker, and the caller gets an `ExportFormatError`.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa

from funnel.errors import ExportFormatError, FunnelError
from funnel.ingest.readers import ParsedFile, read_export

DEFAULT_TIMEOUT_S = float(os.environ.get("FUNNEL_WORKER_TIMEOUT", "600"))
DEFAULT_MEMORY_MB = int(os.environ.get("FUNNEL_WORKER_MEMORY_MB", "8192"))


def parse_untrusted(path: Path, *, name: str | None = None, sheet: str | None = None,
                    header_row: int | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
                    memory_mb: int = DEFAULT_MEMORY_MB) -> ParsedFile:
    """The parsed export at `path`, read by a limited child process."""
    name = name or Path(path).name
    work = Path(tempfile.mkdtemp(prefix="funnel-parse-"))
    try:
        request = {"path": str(Path(path).resolve()), "name": name, "sheet": sheet, "header_row": header_row,
                   "out": str(work / "table.arrow"), "meta": str(work / "meta.json")}
        (work / "request.json").write_text(json.dumps(request))
        limit = memory_mb * 1024 * 1024
        env = {**os.environ, "POLARS_MAX_THREADS": "2"}
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "funnel.ingest.worker", str(work / "request.json")],
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
            err = meta["error"]
            raise ExportFormatError(**err)
        with pa.memory_map(str(work / "table.arrow")) as source:
            table = pa.ipc.open_file(source).read_all()
        meta.pop("kind", None)
        return ParsedFile(table=table, **meta)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def serve(request_path: Path) -> int:
    """The worker's side: parse one file and write the table and its description."""
    request = json.loads(Path(request_path).read_text())
    meta_path = Path(request["meta"])
    try:
        parsed = read_export(Path(request["path"]), name=request["name"], sheet=request["sheet"],
                             header_row=request["header_row"])
    except FunnelError as exc:
        error = {k: v for k, v in asdict(exc).items()}
        meta_path.write_text(json.dumps({"error": error}))
        return 0
    except MemoryError:
        meta_path.write_text(json.dumps({"error": {"reason": "the file needs more memory than the reader may use",
                                                   "file": request["name"],
                                                   "hint": "Split the export into smaller files"}}))
        return 0
    with pa.OSFile(request["out"], "wb") as sink, pa.ipc.new_file(sink, parsed.table.schema) as writer:
        writer.write_table(parsed.table)
    meta = {k: v for k, v in vars(parsed).items() if k != "table"}
    meta_path.write_text(json.dumps(meta))
    return 0


if __name__ == "__main__":
    sys.exit(serve(Path(sys.argv[1])))
