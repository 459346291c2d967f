"""Where a step of `make bench` spends its time: cProfile of one step on the cached store, top functions printed.

    python benchmarks/profile_step.py STEP [--leads 1000000] [--top 30] [--sort cumulative|tottime]
                                        [--timer cpu|wall]

STEP is one of: model (build_funnel_entries on a copy of the store), metrics-lifecycle, metrics-funnel (the
`funnel metrics` command in this process), page-<name> (the page's first render under AppTest, e.g.
page-matrix; the script thread is profiled, since AppTest runs the page in a thread of its own), asof-<name>
(the page rendered once unprofiled, then its rerun after the as-of date moved a day back, as `make bench`
times an as-of change). The store is
the one side_by_side.py made (benchmarks/.cache/model-<leads>.duckdb).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import shutil
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def profiled_model(store: Path, profile: cProfile.Profile) -> None:
    from funnel.config import load_settings
    from funnel.model.build import build_funnel_entries
    from funnel.store.db import connect

    with tempfile.TemporaryDirectory(dir=store.parent) as tmp:
        copy = Path(tmp) / "copy.duckdb"
        shutil.copy(store, copy)
        con = connect(copy)
        settings = load_settings()
        profile.enable()
        build_funnel_entries(con, settings=settings)
        profile.disable()
        con.close()


def profiled_metrics(store: Path, ladder: str, profile: cProfile.Profile) -> None:
    from funnel.cli.main import main

    with contextlib.redirect_stdout(io.StringIO()):
        profile.enable()
        main(["metrics", "--db", str(store), "--ladder", ladder])
        profile.disable()


def profiled_page(store: Path, page: str, profile: cProfile.Profile, *, as_of_change: bool = False) -> None:
    os.environ["FUNNEL_DB"] = str(store)
    os.environ["FUNNEL_LOAD_SAMPLE"] = "0"
    from streamlit.testing.v1 import AppTest

    plain_run = threading.Thread.run

    def run(self: threading.Thread) -> None:  # the page's script thread is the one doing the work
        profile.enable()
        try:
            plain_run(self)
        finally:
            profile.disable()

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=3600)
    at.switch_page(f"pages/{page}.py")
    if as_of_change:
        at.run()
        day = at.date_input(key="as_of").value
        at.date_input(key="as_of").set_value(day - timedelta(days=1))
    threading.Thread.run = run  # type: ignore[method-assign]
    try:
        at.run()
        if as_of_change:  # AppTest applies a date bound to the query string on the run after the one it was set in
            at.run()
    finally:
        threading.Thread.run = plain_run  # type: ignore[method-assign]
    if at.exception:
        raise SystemExit(f"the page failed: {[e.message for e in at.exception]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step")
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="cumulative", choices=("cumulative", "tottime"))
    parser.add_argument("--timer", default="cpu", choices=("cpu", "wall"),
                        help="cpu: the process's CPU seconds (every thread; steady on a busy machine); wall: elapsed")
    args = parser.parse_args(argv)
    store = HERE / ".cache" / f"model-{args.leads}.duckdb"
    if not store.exists():
        parser.error(f"{store} does not exist yet: run benchmarks/side_by_side.py --leads {args.leads} first")
    profile = cProfile.Profile(time.process_time) if args.timer == "cpu" else cProfile.Profile()
    started = time.process_time()
    if args.step == "model":
        profiled_model(store, profile)
    elif args.step.startswith("metrics-"):
        profiled_metrics(store, args.step.removeprefix("metrics-"), profile)
    elif args.step.startswith("page-"):
        profiled_page(store, args.step.removeprefix("page-"), profile)
    elif args.step.startswith("asof-"):
        profiled_page(store, args.step.removeprefix("asof-"), profile, as_of_change=True)
    else:
        parser.error("STEP: model, metrics-lifecycle, metrics-funnel, page-<name> or asof-<name>")
    print(f"{args.step} at {args.leads:,} leads: {time.process_time() - started:.1f} s CPU in all (profiled)")
    pstats.Stats(profile).strip_dirs().sort_stats(args.sort).print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
