"""`make bench`: every step of issue 10 beside its plain DuckDB baseline, measured in the same run.

    python benchmarks/side_by_side.py [--leads 100000 1000000] [--steps import,model,metrics,pages]
                                      [--repeat 3] [--out benchmarks/results.md]

At each size, on the generated sample (benchmarks/.cache/sample_<leads>/, about ten activities per lead), imported
once with `funnel import` into benchmarks/.cache/model-<leads>.duckdb (the lead model built as every import
builds it):

* model: the stored-entries step of the model build (funnel.model.build.build_funnel_entries) and the whole build an
  import runs (rebuild_model: identity, both ladders, spans, first touches, scoring facts, intent inputs), each on
  a fresh copy of the store, vs a sorted scan of the activities (SELECT … ORDER BY lead_id, occurred_at, every row
  fetched); CPU of the step alone, peak RSS of its process;
* metrics: the whole `funnel metrics` process on each ladder vs the whole process running the tuned reference
  (benchmarks/reference_metrics.sql, the same five families in plain SQL on the same connection settings);
* pages: every page under Streamlit AppTest in its own process: the first render (the libraries already
  imported, as in a running server), a rerun with nothing changed, and a change of the as-of date; server-side
  CPU of that run, peak RSS of the process;
* import: benchmarks/bench_import.py (funnel import vs DuckDB's read_csv per file), its figures summed.

Every step runs in a fresh process. CPU seconds (user + system, every thread) move little with the machine's
load, unlike wall time; they are medians of `--repeat` runs (a step that takes a minute or more runs once).
Peak MB is the process's own high-water mark (VmHWM). Ratios divide by the baseline measured in the same run.
The table goes to stdout and to --out (markdown), the raw figures beside it as results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = HERE / ".cache"
TABLES = ("accounts", "leads", "stage_events", "deals", "activities")
LONG = 60.0  # a step at least this long (CPU or wall) runs once
GB4 = 4096.0
PAGES = ("overview", "monthly_review", "distribution", "conversion", "aging", "segments", "lead", "matrix",
         "handoff", "handoff_review", "data", "rules", "routing", "data_quality")
ALL_STEPS = ("import", "model", "metrics", "pages")
# The same connection settings funnel.store.db.connect uses, so the reference runs under the same limits.
DUCKDB_CONFIG = {"memory_limit": os.environ.get("FUNNEL_DUCKDB_MEMORY", "3GB")}

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@dataclass
class Row:
    """One line of the table."""

    step: str
    leads: int
    cpu: float | None  # seconds (median)
    peak_mb: float | None
    baseline: str = ""  # what the ratio divides by, with its figure
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    wall: float | None = None
    runs: int = 1
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------- processes

CPU_NOW = "(lambda u: u.ru_utime + u.ru_stime)(resource.getrusage(resource.RUSAGE_SELF))"
PEAK = ("max(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:')) / 1024, "
        "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)")
WRAP = """import json, resource, sys, time
sys.path.insert(0, {root!r})
{setup}
_cpu0, _wall0 = {cpu_now}, time.perf_counter()
{step}
_u = resource.getrusage(resource.RUSAGE_CHILDREN)
_out = {{'cpu': {cpu_now} - _cpu0 + _u.ru_utime + _u.ru_stime, 'wall': time.perf_counter() - _wall0, 'peak_mb': {peak}}}
_out.update(globals().get('result', {{}}))
print('@@' + json.dumps(_out, default=str))
"""


def last_report(stdout: str) -> str:
    """The JSON a measured process printed last after "@@" (DuckDB's progress bar may share its line)."""
    at = stdout.rfind("@@")
    if at < 0:
        raise RuntimeError(f"the process printed no figures:\n{stdout[-2000:]}")
    return stdout[at + 2:].splitlines()[0]


def in_process(step: str, *, setup: str = "", timeout: float = 3600) -> dict[str, Any]:
    """Run `step` in a fresh Python process (after `setup`, not measured); its CPU and wall seconds and the
    process's peak RSS, plus whatever the step put in a dict named `result`. With no setup the whole process
    is measured (the interpreter's start included)."""
    code = WRAP.format(root=str(ROOT), setup=setup, step=step, cpu_now=CPU_NOW, peak=PEAK)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"step failed ({done.returncode}):\n{step}\n{done.stderr[-4000:]}")
    measured = json.loads(last_report(done.stdout))
    if not setup:  # the whole process: its own accounting, plus the interpreter's start it cannot see
        measured["wall"] = time.perf_counter() - started
    return measured


def whole_process(argv: list[str], *, timeout: float = 3600) -> dict[str, Any]:
    """A command run in a fresh process, measured whole (CPU of the process and its children, peak RSS)."""
    code = ("import resource, subprocess, sys, time, json\n"
            f"t = time.perf_counter()\nsubprocess.run({argv!r}, check=True, stdout=subprocess.DEVNULL)\n"
            "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
            "print('@@' + json.dumps({'cpu': u.ru_utime + u.ru_stime, 'wall': time.perf_counter() - t, "
            "'peak_mb': u.ru_maxrss / 1024}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stderr[-4000:]}")
    return json.loads(last_report(done.stdout))


def repeated(measure, repeat: int) -> dict[str, Any]:
    """`measure()` run up to `repeat` times (once when it takes LONG or more): medians of cpu and wall, the
    largest peak, the other keys of the last run, and how many runs."""
    runs = [measure()]
    while len(runs) < repeat and max(runs[0]["cpu"], runs[0]["wall"]) < LONG:
        runs.append(measure())
    out = dict(runs[-1])
    out.update(cpu=statistics.median(r["cpu"] for r in runs), wall=statistics.median(r["wall"] for r in runs),
               peak_mb=max(r["peak_mb"] for r in runs), runs=len(runs))
    return out


# ------------------------------------------------------------------------------------------- the store


def sample_files(leads: int) -> dict[str, list[Path]]:
    """The generated CSVs for `leads` leads by table (benchmarks/common.py's cache, shared with bench_import.py)."""
    sys.path.insert(0, str(HERE))
    from common import sample_files as files

    return files(leads)


def model_store(leads: int) -> Path:
    """The store of the `leads`-lead sample imported with `funnel import` (the lead model built), made once. A
    store kept from an older checkout lacks the model parts added since (its pages would compute them from the
    tables): `funnel model --build` adds them, and does nothing when the model is current."""
    store = CACHE / f"model-{leads}.duckdb"
    if store.exists():
        subprocess.run([sys.executable, "-m", "funnel.cli.main", "model", "--build", "--db", str(store)], check=True,
                       cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.DEVNULL)
        return store
    files = sample_files(leads)
    partial = CACHE / f"model-{leads}.partial.duckdb"
    for stale in (partial, partial.with_name(partial.name + ".wal")):
        stale.unlink(missing_ok=True)
    print(f"importing the {leads:,}-lead sample once into {store.relative_to(ROOT)} …", flush=True)
    subprocess.run([sys.executable, "-m", "funnel.cli.main", "import", "--db", str(partial),
                    *[str(path) for t in TABLES for path in files[t]]], check=True, cwd=ROOT,
                   env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.DEVNULL)
    partial.rename(store)
    return store


def store_facts(store: Path) -> dict[str, Any]:
    from funnel.model.history import newest_day
    from funnel.store.db import connect, first_row

    con = connect(store, read_only=True)
    try:
        leads, activities = first_row(con, "SELECT (SELECT count(*) FROM leads), (SELECT count(*) FROM activities)")
        return {"leads": leads, "activities": activities, "as_of": newest_day(con)}
    finally:
        con.close()


# --------------------------------------------------------------------------------------------- steps


def ratio_row(step: str, leads: int, ours: dict, base: dict, base_name: str, *, limit: float, target: str) -> Row:
    ratio = ours["cpu"] / base["cpu"] if base["cpu"] else None
    met = ratio is not None and ratio <= limit and ours["peak_mb"] <= GB4
    return Row(step, leads, ours["cpu"], ours["peak_mb"], f"{base_name} {base['cpu']:.2f} s · {base['peak_mb']:.0f} MB",
               ratio, target, met, ours["wall"], ours["runs"])


def base_row(step: str, leads: int, measured: dict) -> Row:
    return Row(step, leads, measured["cpu"], measured["peak_mb"], "(baseline)", None, "", None, measured["wall"],
               measured["runs"])


def model_steps(store: Path, leads: int, repeat: int) -> list[Row]:
    """build_funnel_entries and rebuild_model, each on a fresh copy of the store, vs the sorted scan of the
    activities."""
    scan_setup = (f"import duckdb\ncon = duckdb.connect({str(store)!r}, read_only=True, config={DUCKDB_CONFIG!r})\n"
                  "con.execute('SET enable_progress_bar = false')")
    scan = ("reader = con.execute('SELECT lead_id, activity_id, activity_type, occurred_at FROM activities "
            "ORDER BY lead_id, occurred_at').to_arrow_reader(1_000_000)\n"
            "rows = sum(batch.num_rows for batch in reader)\nresult = {'rows': rows}")
    baseline = repeated(lambda: in_process(scan, setup=scan_setup), repeat)

    def build(call: str) -> dict:
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            copy = Path(tmp) / "copy.duckdb"
            shutil.copy(store, copy)
            setup = ("from funnel.config import load_settings\n"
                     "from funnel.model.build import build_funnel_entries, rebuild_model\n"
                     f"from funnel.store.db import connect\ncon = connect({str(copy)!r})\nsettings = load_settings()")
            return in_process(f"result = {{'built': {call}}}\ncon.close()", setup=setup)

    entries = repeated(lambda: build("build_funnel_entries(con, settings=settings)"), repeat)
    whole = repeated(lambda: build("rebuild_model(con, settings=settings)"), repeat)
    return [base_row("sorted scan of the activities", leads, baseline),
            ratio_row("model build (build_funnel_entries)", leads, entries, baseline, "sorted scan", limit=1.5,
                      target="≤ 1.5× scan, ≤ 4 GB"),
            ratio_row("whole model build (rebuild_model)", leads, whole, baseline, "sorted scan", limit=1.5,
                      target="≤ 1.5× scan, ≤ 4 GB")]


def metrics_steps(store: Path, leads: int, as_of: date, repeat: int) -> list[Row]:
    """`funnel metrics` on each ladder vs the reference, both whole processes."""
    from reference import reference_params, reference_sql

    from funnel.config import load_settings

    settings = load_settings()
    rows = []
    for ladder in ("lifecycle", "funnel"):
        params = reference_params(settings, ladder=ladder, as_of=as_of)
        reference = (f"import datetime, duckdb\ncon = duckdb.connect({str(store)!r}, read_only=True, "
                     f"config={DUCKDB_CONFIG!r})\ncon.execute('SET enable_progress_bar = false')\n"
                     f"rows = con.execute({reference_sql(ladder)!r}, {params!r}).fetchall()\n"
                     "result = {'rows': len(rows)}")
        baseline = repeated(lambda reference=reference: in_process(reference), repeat)
        command = [sys.executable, "-m", "funnel.cli.main", "metrics", "--db", str(store), "--ladder", ladder]
        ours = repeated(lambda command=command: whole_process(command), repeat)
        rows.append(base_row(f"reference SQL, {ladder} ladder", leads, baseline))
        rows.append(ratio_row(f"funnel metrics --ladder {ladder}", leads, ours, baseline, "reference",
                              limit=1.25, target="≤ 1.25× reference, ≤ 4 GB"))
    return rows


PAGE_SETUP = """
import os, datetime
os.environ['FUNNEL_DB'] = {store!r}
os.environ['FUNNEL_LOAD_SAMPLE'] = '0'
import duckdb, polars, plotly.graph_objects, streamlit  # loaded in a running server before any page
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({app!r}, default_timeout=3600)
at.switch_page({page!r})
"""
PAGE_STEP = """
def timed(run):
    cpu, wall = {cpu_now}, time.perf_counter()
    run()
    if at.exception:
        raise SystemExit('the page failed: ' + str([e.message for e in at.exception])[:2000])
    return {{'cpu': {cpu_now} - cpu, 'wall': time.perf_counter() - wall}}
first = timed(at.run)
again = [timed(at.run) for _ in range({repeat})]
day = datetime.date.fromisoformat({as_of!r})
changes = []
for back in range(1, {repeat} + 1):  # a new date each time: nothing cached for it yet
    at.date_input(key='as_of').set_value(day - datetime.timedelta(days=back))
    changes.append(timed(at.run))
result = {{'first': first, 'again': again, 'as_of_change': changes}}
"""


def page_steps(store: Path, leads: int, as_of: date, repeat: int, pages: tuple[str, ...] = PAGES) -> list[Row]:
    """Each page in its own process: first render, reruns with nothing changed, as-of changes (server side)."""
    rows = []
    for page in pages:
        setup = PAGE_SETUP.format(store=str(store), app=str(ROOT / "app.py"), page=f"pages/{page}.py")
        try:
            runs = [in_process(PAGE_STEP.format(cpu_now=CPU_NOW, repeat=repeat, as_of=as_of.isoformat()),
                               setup=setup)]
            # more first renders, each in a fresh process (the reruns and as-of changes have their `repeat` already)
            while len(runs) < repeat and runs[0]["first"]["wall"] < LONG:
                runs.append(in_process(PAGE_STEP.format(cpu_now=CPU_NOW, repeat=0, as_of=as_of.isoformat()),
                                       setup=setup))
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            print(f"  {page}: FAILED {str(exc)[-1500:]}", flush=True)
            rows.append(Row(f"page {page}", leads, None, None, "", None, "renders", False,
                            note=str(exc).strip().splitlines()[-1][:200]))
            continue
        peak = max(r["peak_mb"] for r in runs)

        def median(values: list[dict], key: str) -> float:
            return statistics.median(v[key] for v in values)

        first = [r["first"] for r in runs]
        again = [a for r in runs for a in r["again"]]
        changes = [c for r in runs for c in r["as_of_change"]]
        for what, values, limit in (("first render", first, 2.0), ("rerun, nothing changed", again, 0.2),
                                    ("as-of change", changes, 0.2)):
            cpu = median(values, "cpu")
            target = f"≤ {limit * 1000:.0f} ms, ≤ 4 GB" if limit < 1 else f"≤ {limit:g} s, ≤ 4 GB"
            rows.append(Row(f"page {page}: {what}", leads, cpu, peak, "", None, target,
                            cpu <= limit and peak <= GB4, median(values, "wall"), len(values)))
        print(f"  {page}: first {rows[-3].cpu:.2f} s, rerun {rows[-2].cpu:.3f} s, as-of {rows[-1].cpu:.2f} s CPU, "
              f"{peak:.0f} MB", flush=True)
    return rows


NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def import_steps(leads: int) -> list[Row]:
    """benchmarks/bench_import.py at this size (funnel import vs read_csv per file), its figures summed.
    Its table gives seconds (wall, median of its runs) and peak MB per file; CPU columns are used when it has
    them."""
    done = subprocess.run([sys.executable, str(HERE / "bench_import.py"), str(leads)], capture_output=True,
                          text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), check=False)
    print(done.stdout, end="", flush=True)
    if done.returncode != 0:
        raise RuntimeError(f"bench_import.py failed:\n{done.stderr[-4000:]}")
    header: list[str] = []
    files = []
    for line in done.stdout.splitlines():
        if "table" in line and "duckdb" in line and not header:
            header = re.findall(r"leads|table|file MB|ratio|(?:duckdb|funnel)(?: cpu)? (?:s|MB)", line)
            continue
        tokens = line.split()
        if header and len(tokens) == len(header) and tokens[1] in TABLES and all(NUMBER.match(t) for t in
                                                                                 tokens[2:]):
            files.append(dict(zip(header, [tokens[0], tokens[1], *map(float, tokens[2:])], strict=True)))
        elif files and not tokens:
            break
    if not files or not header:
        raise RuntimeError(f"could not read bench_import.py's table:\n{done.stdout[-2000:]}")
    unit = "cpu s" if "funnel cpu s" in header else "s"
    ours = {"cpu": sum(f[f"funnel {unit}"] for f in files), "peak_mb": max(f["funnel MB"] for f in files)}
    base = {"cpu": sum(f[f"duckdb {unit}"] for f in files), "peak_mb": max(f["duckdb MB"] for f in files)}
    cpu_ratio = ours["cpu"] / base["cpu"]
    mem_ratio = ours["peak_mb"] / base["peak_mb"]
    note = "" if unit == "cpu s" else "wall s (bench_import.py reports wall time)"
    return [Row("read_csv of the same files", leads, base["cpu"], base["peak_mb"], "(baseline)", note=note),
            Row("import (funnel import, per file, summed)", leads, ours["cpu"], ours["peak_mb"],
                f"read_csv {base['cpu']:.2f} s · {base['peak_mb']:.0f} MB", cpu_ratio,
                "≤ 1.5× time, ≤ 2× peak of read_csv", cpu_ratio <= 1.5 and mem_ratio <= 2.0 and ours["peak_mb"] <= GB4,
                note=f"{note}; peak {mem_ratio:.2f}× read_csv".lstrip("; "), extra={"files": files})]


# --------------------------------------------------------------------------------------------- table


def guarded(step: str, leads: int, measure, *args: Any) -> list[Row]:
    """The rows of `measure(*args)`, or one row saying the step failed (the run goes on with the others)."""
    try:
        return measure(*args)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"{step}: FAILED {str(exc)[-1500:]}", flush=True)
        return [Row(step, leads, None, None, "", None, "runs", False, note=str(exc).strip().splitlines()[-1][:200])]


def table(rows: list[Row]) -> str:
    lines = ["| step | leads | CPU s | peak MB | baseline | ratio | target | met? |",
             "| --- | ---: | ---: | ---: | --- | ---: | --- | --- |"]
    for r in rows:
        cpu = "" if r.cpu is None else (f"{r.cpu:.3f}" if r.cpu < 1 else f"{r.cpu:.2f}")
        if r.note.startswith("wall s"):
            cpu += " (wall)"
        met = "" if r.met is None else ("yes" if r.met else "**no**")
        if r.cpu is None and r.note:
            met += f" ({r.note})"
        lines.append(f"| {r.step} | {r.leads:,} | {cpu} | {'' if r.peak_mb is None else f'{r.peak_mb:.0f}'} | "
                     f"{r.baseline} | {'' if r.ratio is None else f'{r.ratio:.2f}×'} | {r.target} | {met} |")
    return "\n".join(lines)


def commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT, check=False)
    return done.stdout.strip() or "unknown"


def machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs, load average {load}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--steps", default=",".join(ALL_STEPS), help="comma-separated: " + ", ".join(ALL_STEPS))
    parser.add_argument("--pages", default=",".join(PAGES), help="comma-separated page names")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "results.md")
    parser.add_argument("--append", action="store_true",
                        help="keep the rows of other sizes already in --out's .json (e.g. 100k, then 1M)")
    parser.add_argument("--combine", type=Path, nargs="+", default=None,
                        help="only write --out from the .json of earlier runs (e.g. one per size)")
    args = parser.parse_args(argv)
    if args.combine:
        saved = [json.loads(path.read_text()) for path in args.combine]
        write_results(args.out, [n for s in saved for n in s["notes"]],
                      sorted((Row(**r) for s in saved for r in s["rows"]), key=lambda r: r.leads))
        return 0
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = set(steps) - set(ALL_STEPS)
    if unknown:
        parser.error(f"unknown steps {', '.join(sorted(unknown))}; use {', '.join(ALL_STEPS)}")
    CACHE.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(HERE))

    rows: list[Row] = []
    kept: list[Row] = []
    earlier: list[str] = []
    if args.append and args.out.with_suffix(".json").exists():
        saved = json.loads(args.out.with_suffix(".json").read_text())
        kept = [Row(**r) for r in saved["rows"] if r["leads"] not in args.leads]
        earlier = [n for n in saved["notes"] if not any(f"{n_:,} leads" in n for n_ in args.leads)]
    notes = [f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} · commit {commit()} · {machine()} before"]
    started = time.perf_counter()
    for leads in args.leads:
        store = model_store(leads)
        facts = store_facts(store)
        print(f"\n== {leads:,} leads · {facts['activities']:,} activities · as of {facts['as_of']} · {machine()}",
              flush=True)
        size_started = time.perf_counter()
        if "model" in steps:
            rows += guarded("model build", leads, model_steps, store, leads, args.repeat)
            print(table(rows[-3:]), flush=True)
        if "metrics" in steps:
            rows += guarded("funnel metrics", leads, metrics_steps, store, leads, facts["as_of"], args.repeat)
            print(table(rows[-4:]), flush=True)
        if "pages" in steps:
            rows += page_steps(store, leads, facts["as_of"], args.repeat,
                               tuple(p.strip() for p in args.pages.split(",") if p.strip()))
        if "import" in steps:  # last: the longest, and measured apart from the store the others read
            try:
                rows += import_steps(leads)
            except RuntimeError as exc:
                print(f"import: FAILED {str(exc)[-1500:]}", flush=True)
                rows.append(Row("import (bench_import.py)", leads, None, None, "", None, "runs", False,
                                note=str(exc).strip().splitlines()[-1][:200]))
        notes.append(f"{leads:,} leads / {facts['activities']:,} activities as of {facts['as_of']}: "
                     f"{(time.perf_counter() - size_started) / 60:.1f} min, {machine()} after")
    notes.append(f"the whole run took {(time.perf_counter() - started) / 60:.1f} min")
    write_results(args.out, earlier + notes, sorted(kept + rows, key=lambda r: r.leads))
    return 0


def write_results(out: Path, notes: list[str], rows: list[Row]) -> None:
    """The table to stdout and to `out` (markdown), the rows and notes beside it (.json)."""
    text = table(rows)
    print("\n" + text)
    for note in notes:
        print(note)
    out.write_text("# Benchmarks side by side (issue 10)\n\n" + "\n".join(f"- {n}" for n in notes)
                        + "\n\nCPU s: user + system seconds of the step (medians); pages: server-side CPU of the run; "
                          "import: as bench_import.py reports it.\n\n" + text + "\n", encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps({"notes": notes, "rows": [asdict(r) for r in rows]},
                                                   indent=1, default=str))


if __name__ == "__main__":
    sys.exit(main())
