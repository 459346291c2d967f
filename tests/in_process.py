"""Imports prepared in the test's own process: the importer's job and its error path as the limited worker runs
them, without a child process (a Python start per batch). For tests that import many trusted or memoised files
through the CLI or `prepare_import`; the real worker keeps tests of its own (tests/test_import_bounds.py, and
the CLI test of a refused file in tests/test_import.py)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Self

import pytest

from funnel.ingest import importer
from funnel.ingest.worker import answer_in, answered


class InProcessBatch:
    """`funnel.ingest.worker.BatchWorker` for the importer, answering in this process: each request is prepared
    by the importer's own job (`prepared_job`, its answer and errors written and read back as the child's
    are; `imports_in_process` sets how it reads files). For tests that import many trusted or memoised
    files through the CLI, where a child per batch costs a Python start; the real worker keeps tests of its own."""

    def __call__(self, module: str, **limits) -> Self:
        return self

    def __enter__(self) -> Self:
        self.work, self.served = Path(tempfile.mkdtemp(prefix="funnel-batch-")), 0
        return self

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.work, ignore_errors=True)

    @contextmanager
    def answer(self, request: dict, *, name: str) -> Iterator[tuple[dict, Path]]:
        self.served += 1
        folder = self.work / str(self.served)
        folder.mkdir()
        answered({**request, "work": str(folder)}, folder, importer.prepared_job)
        try:
            yield answer_in(folder, name=name, exit_code=None), folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def imports_in_process(monkeypatch: pytest.MonkeyPatch, parse) -> None:
    """Every import of the test prepared in this process with files read by `parse` (single files and batches:
    `prepare_import` and `import_batch`, as the CLI and the Data page import)."""
    here = partial(importer.prepared_here, parse=parse)
    monkeypatch.setattr(importer, "prepared_in_worker", here)
    monkeypatch.setattr(importer, "prepared_here", here)  # what `prepared_job` calls
    monkeypatch.setattr(importer, "BatchWorker", InProcessBatch())
