"""Page render times on a large store, as a person opening each page would feel them (Streamlit AppTest).

Usage: python benchmarks/bench_pages.py DB_PATH — times every page's first render (cold caches)
and a second run with nothing changed (warm caches), on the database at DB_PATH.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["pages/overview.py", "pages/distribution.py", "pages/conversion.py", "pages/aging.py",
         "pages/segments.py", "pages/handoff.py", "pages/matrix.py", "pages/data.py"]


def main() -> int:
    from streamlit.testing.v1 import AppTest

    os.environ["FUNNEL_DB"] = sys.argv[1]
    os.environ["FUNNEL_LOAD_SAMPLE"] = "0"
    print(f"{'page':<24} {'first s':>8} {'again s':>8}")
    for page in PAGES:
        app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=900)
        app.run()
        start = time.perf_counter()
        app.switch_page(page).run()
        first = time.perf_counter() - start
        start = time.perf_counter()
        app.run()
        again = time.perf_counter() - start
        status = "error" if app.exception else ""
        print(f"{page:<24} {first:>8.2f} {again:>8.2f} {status}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
