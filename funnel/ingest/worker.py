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
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Self

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


def limits(memory_mb: int) -> Callable[[], None]:
    """The child's address-space limit, set between fork and exec."""
    limit = memory_mb * 1024 * 1024
    return lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


CHILD_ENV = {"POLARS_MAX_THREADS": "2"}


@contextmanager
def run_limited(module: str, request: dict, *, name: str, timeout_s: float = DEFAULT_TIMEOUT_S,
                memory_mb: int = DEFAULT_MEMORY_MB,
                progress: Callable[[str, float], None] | None = None) -> Iterator[tuple[dict, Path]]:
    """Runs `python -m module` on `request` in a limited child; yields its JSON answer and the folder
    holding the files it wrote (removed afterwards). A child's FunnelError is raised here. With
    `progress`, each line the child prints as {"step": …, "done": …} is passed on while it runs."""
    work = Path(tempfile.mkdtemp(prefix="funnel-worker-"))
    try:
        (work / "request.pickle").write_bytes(pickle.dumps({**request, "work": str(work)}))
        proc = subprocess.Popen([sys.executable, "-m", module, str(work / "request.pickle")],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                env={**os.environ, **CHILD_ENV}, preexec_fn=limits(memory_mb))  # noqa: PLW1509 (setrlimit only)
        try:
            for line in lines_until(proc, deadline=time.monotonic() + timeout_s):
                reported = progress_line(line)
                if progress is not None and reported is not None:
                    progress(*reported)
            proc.wait()
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise ExportFormatError(f"reading the file took longer than {timeout_s:.0f} s and was stopped",
                                    file=name, hint="Split the export into smaller files") from None
        finally:
            proc.stdout.close()
        yield answer_in(work, name=name, exit_code=proc.returncode), work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def lines_until(proc: subprocess.Popen, *, deadline: float) -> Iterator[bytes]:
    """The lines a child prints until it closes its output; TimeoutExpired past `deadline`."""
    fd = proc.stdout.fileno()
    pending = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise subprocess.TimeoutExpired(proc.args, 0)
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from complete


def progress_line(line: bytes) -> tuple[str, float] | None:
    """(step, fraction done) from a child's progress line, or None for any other output."""
    try:
        data = json.loads(line)
        return str(data["step"]), min(max(float(data["done"]), 0.0), 1.0)
    except (ValueError, TypeError, KeyError):
        return None


def report_progress(step: str, done: float) -> None:
    """The child's side of `progress`: one line on its output, read by `run_limited`."""
    sys.stdout.write(json.dumps({"step": step, "done": done}) + "\n")
    sys.stdout.flush()


def answer_in(work: Path, *, name: str, exit_code: int | None) -> dict:
    """The child's JSON answer in `work`; its FunnelError raised, or a clear error when it died."""
    meta_path = work / "meta.json"
    if not meta_path.exists():
        raise ExportFormatError("the file could not be read: the reader stopped unexpectedly "
                                f"(exit code {exit_code})", file=name,
                                hint="The file may be corrupt or too large for memory; export it again")
    meta = json.loads(meta_path.read_text())
    if "error" in meta:
        err = dict(meta["error"])
        kind = ERROR_KINDS.get(err.pop("kind", ""), ExportFormatError)
        raise kind(**err)
    return meta


def serve_limited(request_path: Path, job: Callable[[dict, Path], dict]) -> int:
    """The child's side: run `job(request, work)`, which writes its tables into `work` and returns the
    JSON description; a FunnelError or running out of memory is written as the answer instead."""
    request = pickle.loads(Path(request_path).read_bytes())
    answered(request, Path(request["work"]), job)
    return 0


def answered(request: dict, work: Path, job: Callable[[dict, Path], dict]) -> None:
    """`job` run on one request, its answer (or its FunnelError, or running out of memory) in work/meta.json."""
    meta_path = work / "meta.json"
    try:
        meta = job(request, work)
    except FunnelError as exc:
        meta_path.write_text(json.dumps({"error": {"kind": type(exc).__name__, **asdict(exc)}}))
        return
    except MemoryError:
        meta_path.write_text(json.dumps({"error": {"reason": "the file needs more memory than the import may use",
                                                   "file": request["name"],
                                                   "hint": "Split the export into smaller files"},
                                         "out_of_memory": True}))
        return
    meta_path.write_text(json.dumps(meta))


class BatchWorker:
    """One limited child for a whole batch of files: it serves one request after another (a request
    file written here, its number sent on the child's input, the same number printed back once the
    answer is in that request's folder), so a batch pays for one interpreter and one set of imports.
    The limits are those of `run_limited`; the timeout counts per request. A child's address space grows
    with each file it has read (freed memory is not always given back), so a file that runs out of memory
    in a child that served earlier files is read once more by a fresh child, with the whole limit to itself;
    a file that runs out of memory there, or overruns, fails, and the batch with it."""

    def __init__(self, module: str, *, timeout_s: float = DEFAULT_TIMEOUT_S,
                 memory_mb: int = DEFAULT_MEMORY_MB) -> None:
        self.module, self.timeout_s, self.memory_mb = module, timeout_s, memory_mb
        self.served = 0  # requests of this batch, each with its own folder
        self.restarts = 0  # fresh children started after one ran out of memory
        self._child_served = 0  # requests the current child has served

    def __enter__(self) -> Self:
        self.work = Path(tempfile.mkdtemp(prefix="funnel-batch-"))
        self._start()
        return self

    def _start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", self.module, "--batch", str(self.work)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     env={**os.environ, **CHILD_ENV}, preexec_fn=limits(self.memory_mb))  # noqa: PLW1509
        self._child_served = 0

    def _stop(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        finally:
            self.proc.stdout.close()

    def __exit__(self, *exc: object) -> None:
        try:
            self._stop()
        finally:
            shutil.rmtree(self.work, ignore_errors=True)

    @contextmanager
    def answer(self, request: dict, *, name: str) -> Iterator[tuple[dict, Path]]:
        """The child's JSON answer to `request` and the folder of the files it wrote (removed afterwards)."""
        folder = self._served_in(request, name=name)
        try:
            if self._child_served > 1 and ran_out_of_memory(folder):
                shutil.rmtree(folder, ignore_errors=True)
                self._stop()
                self._start()
                self.restarts += 1
                folder = self._served_in(request, name=name)
            yield answer_in(folder, name=name, exit_code=self.proc.returncode), folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _served_in(self, request: dict, *, name: str) -> Path:
        """The folder in which the current child answered `request` (its answer not yet read)."""
        self.served += 1
        self._child_served += 1
        folder = self.work / str(self.served)
        folder.mkdir()
        (folder / "request.pickle").write_bytes(pickle.dumps({**request, "work": str(folder)}))
        try:
            self.proc.stdin.write(f"{self.served}\n".encode())
            self.proc.stdin.flush()
            done = next(lines_until(self.proc, deadline=time.monotonic() + self.timeout_s), None)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            shutil.rmtree(folder, ignore_errors=True)
            raise ExportFormatError(f"reading the file took longer than {self.timeout_s:.0f} s and was "
                                    "stopped", file=name, hint="Split the export into smaller files") from None
        except BrokenPipeError:
            done = None
        if done is None:
            self.proc.wait()
        return folder


def ran_out_of_memory(folder: Path) -> bool:
    """Whether the child ran out of memory on the request answered in `folder` (it said so, or died)."""
    meta_path = folder / "meta.json"
    return not meta_path.exists() or bool(json.loads(meta_path.read_text()).get("out_of_memory"))


def serve_batch(work: Path, job: Callable[[dict, Path], dict]) -> int:
    """The child's side of `BatchWorker`: each number read on the input names a request folder in `work`."""
    for line in sys.stdin:
        folder = work / line.strip()
        request = pickle.loads((folder / "request.pickle").read_bytes())
        answered(request, folder, job)
        sys.stdout.write(line)
        sys.stdout.flush()
    return 0


def served(job: Callable[[dict, Path], dict]) -> int:
    """A worker module's entry point: one request (`run_limited`) or a batch of them (`BatchWorker`)."""
    if sys.argv[1] == "--batch":
        return serve_batch(Path(sys.argv[2]), job)
    return serve_limited(Path(sys.argv[1]), job)


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
    sys.exit(served(parsed_job))
