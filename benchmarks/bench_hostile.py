"""Peak memory of the largest hostile imports (issue 13): each file built here, then imported by a
fresh process whose own peak (VmHWM) and its children's (the limited workers') are reported, two ways:

- `cli`: `import_batch` in the calling process, as `funnel import` does (parsed and validated by the
  limited worker, written here from its Arrow files);
- `dashboard`: as the Data page does: `checked_upload` for the file's card (the limited worker sends back
  counts and the first rows only), then `imported_in_child` for the import click (parse, validation and
  write all in a memory-limited child; the caller only waits).

Run against another checkout with PYTHONPATH=<tree> to compare.

    python benchmarks/bench_hostile.py [case ...]   # cases: notes_900mb notes_1200mb liar_xlsx
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from common import PEAK_SELF

ROWS = 3_000_000


def notes_parquet(path: Path, *, note_bytes: int) -> Path:
    """3M leads whose `note` is dictionary-encoded from 8 distinct notes: a few MB on disk."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    indices = pa.array(np.random.default_rng(7).integers(0, 8, ROWS, dtype=np.int32))
    notes = pa.array([chr(ord("a") + i) * note_bytes for i in range(8)])
    ids = pa.array([f"L-{i}" for i in range(ROWS)])
    pq.write_table(pa.table({"lead_id": ids, "note": pa.DictionaryArray.from_arrays(indices, notes)}), path)
    return path


def liar_xlsx(path: Path) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.bombs import xlsx_bomb

    return xlsx_bomb(path, real=3 * (1 << 29), claimed=200)


CASES = {
    "notes_900mb": lambda d: notes_parquet(d / "notes_900mb.parquet", note_bytes=300),
    "notes_1200mb": lambda d: notes_parquet(d / "notes_1200mb.parquet", note_bytes=400),
    "liar_xlsx": lambda d: liar_xlsx(d / "liar.xlsx"),
}

IMPORT = PEAK_SELF + """
import json, resource, sys, time
from pathlib import Path
from funnel.config import default_settings
from funnel.errors import FunnelError
from funnel.ingest.import_job import imported_in_child
from funnel.ingest.importer import BatchFile, import_batch
from funnel.ingest.upload import checked_upload
from funnel.store.db import connect
start = time.perf_counter()
try:
    if sys.argv[3] == "cli":  # funnel import: the batch written here from the worker's Arrow files
        con = connect(Path(sys.argv[2]))
        outcome = "; ".join(r.summary() for r in import_batch(con, [BatchFile(Path(sys.argv[1]), table="leads")],
                                                              settings=default_settings()))
        con.close()
    else:  # the Data page: the upload's card from the checking worker, then the import click's child
        checked = checked_upload(Path(sys.argv[1]).read_bytes(), Path(sys.argv[1]).name, mapping_text="",
                                 table="leads", settings=default_settings())
        if isinstance(checked, FunnelError):
            raise checked
        connect(Path(sys.argv[2])).close()
        results = imported_in_child(Path(sys.argv[2]), [BatchFile(Path(sys.argv[1]), table="leads")],
                                    settings=default_settings())
        outcome = f"checked {checked.rows} rows; " + "; ".join(r.summary() for r in results)
except FunnelError as exc:
    outcome = "refused: " + exc.message()
print(json.dumps({"seconds": round(time.perf_counter() - start, 1), "caller_mb": round(peak_self_mb()),
                  "worker_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
                  "outcome": outcome[:160]}))
"""


def main(names: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="funnel-hostile-") as tmp:
        folder = Path(tmp)
        for name in names or list(CASES):
            path = CASES[name](folder)
            for way in ("cli", "dashboard"):
                proc = subprocess.run([sys.executable, "-c", IMPORT, str(path), str(folder / f"{name}_{way}.duckdb"), way],
                                      capture_output=True, text=True, check=False)
                result = (json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0
                          else {"crashed": proc.returncode, "stderr": proc.stderr[-300:]})
                print(json.dumps({"case": name, "way": way, "file_mb": round(path.stat().st_size / 2**20, 1), **result}),
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
