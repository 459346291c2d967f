"""Shared fixtures: the shared folder, a fresh database path, and a small canonical sample.

`shared_dir` is the project's shared folder (the bad-input corpus lives in `data/badinput/`).
It is found beside the repository, or at $FUNNEL_SHARED; tests that need it skip, naming the path
they looked at, when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

# No per-example time limit: speed is measured in benchmarks/, never asserted by a test, and a loaded
# CI machine must not turn a slow example into a failure.
hypothesis_settings.register_profile("suite", deadline=None)
hypothesis_settings.load_profile("suite")


def shared_path() -> Path:
    """Where the shared folder should be: $FUNNEL_SHARED, else `../shared` beside the repository."""
    return Path(os.environ.get("FUNNEL_SHARED") or Path(__file__).resolve().parents[2] / "shared")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared folder; the test skips when it is absent."""
    path = shared_path()
    if not path.is_dir():
        pytest.skip(f"shared folder not found at {path} (set FUNNEL_SHARED to the shared folder)")
    return path


@pytest.fixture
def tmp_db(tmp_path: Path) -> Path:
    """A path for a fresh database file (not created yet)."""
    return tmp_path / "funnel.duckdb"


@pytest.fixture(scope="session")
def sample_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small generated canonical sample (300 leads): one CSV per table, by table name."""
    from funnel.ingest.sample import write_sample

    return write_sample(tmp_path_factory.mktemp("sample"), leads=300)


@pytest.fixture(scope="session")
def bundled_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding the bundled sample, loaded once per test process the way `make run` loads it (`funnel
    load-sample`). Never opened by a test: each module takes its own copy with `tests.apptest.copied`, so
    what one module writes no other sees."""
    import contextlib
    import io

    from funnel.cli.main import main

    db = tmp_path_factory.mktemp("bundled_sample") / "sample.duckdb"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["load-sample", "--db", str(db)]) == 0
    assert out.getvalue() == f"{db}: loaded the bundled sample\n"
    return db


class ParseOnce:
    """`funnel.ingest.worker.parse_untrusted`, each file read once per session (the worker costs a process start).

    Errors are remembered too and raised again as fresh copies. `prefetch` fills the cache with a few
    batch workers (one limited child serving many files, as a multi-file import does).
    """

    def __init__(self) -> None:
        self.results: dict[tuple, object] = {}

    @staticmethod
    def key(path: Path, name: str | None = None, sheet: str | None = None, header_row: int | None = None) -> tuple:
        return str(Path(path).resolve()), name or Path(path).name, sheet, header_row

    def __call__(self, path: Path, *, name: str | None = None, sheet: str | None = None,
                 header_row: int | None = None, **limits):
        from dataclasses import replace

        from funnel.errors import FunnelError
        from funnel.ingest.worker import parse_untrusted

        key = self.key(path, name, sheet, header_row)
        if key not in self.results:
            try:
                self.results[key] = parse_untrusted(Path(path), name=name, sheet=sheet, header_row=header_row,
                                                    **limits)
            except FunnelError as exc:
                self.results[key] = exc
        result = self.results[key]
        if isinstance(result, FunnelError):
            raise replace(result)
        return result

    def prefetch(self, paths: list[Path], *, workers: int = 2) -> None:
        """Parses the files not parsed yet, each in the same limited child code as `parse_untrusted`
        (`parsed_job`) but served by `workers` batch children, so the corpus costs a few interpreter
        starts instead of one per file. A file whose child dies or overruns is left to `__call__`,
        which then reads it alone."""
        from concurrent.futures import ThreadPoolExecutor

        todo = [Path(p) for p in dict.fromkeys(paths) if self.key(p) not in self.results]
        count = max(1, min(workers, os.cpu_count() or 1, len(todo)))
        with ThreadPoolExecutor(max_workers=count) as pool:
            list(pool.map(self.batch, [todo[i::count] for i in range(count)]))

    def batch(self, paths: list[Path]) -> None:
        import pyarrow as pa

        from funnel.errors import FunnelError
        from funnel.ingest.readers import ParsedFile
        from funnel.ingest.worker import BatchWorker

        pending = list(paths)
        while pending:
            with BatchWorker("funnel.ingest.worker") as worker:
                while pending:
                    path = pending.pop(0)
                    request = {"path": str(path.resolve()), "name": path.name, "sheet": None, "header_row": None}
                    try:
                        with worker.answer(request, name=path.name) as (meta, work), \
                                pa.memory_map(str(work / "table.arrow")) as source:
                            table = pa.ipc.open_file(source).read_all()
                        meta.pop("kind", None)
                        result = ParsedFile(table=table, **meta)
                    except FunnelError as exc:
                        result = exc
                    if worker.proc.poll() is not None:  # the child died or was stopped on this file
                        break
                    self.results[self.key(path)] = result


@pytest.fixture(scope="session")
def parse_once() -> ParseOnce:
    """A session-wide memo of parsed exports (see ParseOnce)."""
    return ParseOnce()


# The tests' data is a few thousand rows: compiling each new query's code and re-planning it after each shuffle
# cost more than running it (the parity set: 158 s with Spark's defaults, 127 s without). Both change how Spark
# runs a plan, never what it returns.
TINY_DATA_SPARK_CONF = {"spark.sql.codegen.wholeStage": "false", "spark.sql.codegen.factoryMode": "NO_CODEGEN",
                        "spark.sql.adaptive.enabled": "false", "spark.default.parallelism": "1"}


@pytest.fixture(scope="session")
def spark_session():
    """One local Spark session for every `spark` test of this test session (driver memory capped,
    UI off, loopback only); skips, with the reason, when pyspark or a Java runtime is missing."""
    import shutil
    import sys

    try:
        import pyspark  # noqa: F401
    except ImportError:
        pytest.skip('pyspark is not installed (the spark extra: pip install -e ".[spark]")')
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java runtime on PATH (Spark 4 needs Java 17+: apt-get install openjdk-17-jre-headless)")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("FUNNEL_SPARK_DRIVER_MEMORY", "768m")
    os.environ.setdefault("FUNNEL_SPARK_PARTITIONS", "1")  # tiny data: one task per stage
    os.environ.pop("FUNNEL_SPARK_REMOTE", None)
    from funnel.engine.spark import spark_session as session_of_this_process

    session = session_of_this_process(conf=TINY_DATA_SPARK_CONF)
    yield session
    session.stop()
