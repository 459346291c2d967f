"""Screenshots of every page at 1440×900 in a real headless Chromium (Debian's, never a downloaded one), to
look at what a person sees. Not a benchmark: a tool that sits beside them because it drives a real server.

Usage: python benchmarks/screens.py sample|olist [OUT_DIR] — starts `streamlit run app.py` on a fresh
database (the bundled sample, or the Olist files imported through sample_data/mappings/olist.toml from
$FUNNEL_SHARED/data/real), opens every page and saves `<store>_<page>.png` (default OUT_DIR: docs/screens).
PNGs are written with a reduced palette so each stays well under 300 KB.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FUNNEL_SHARED")
              or next((p / "shared" for p in ROOT.parents if (p / "shared" / "data" / "real").is_dir()), ROOT / "shared"))
OLIST = SHARED / "data" / "real" / "olist-marketing-funnel"
OLIST_FILES = [OLIST / "olist_marketing_qualified_leads_dataset.csv", OLIST / "olist_closed_deals_dataset.csv"]
PAGES = ["overview", "monthly_review", "distribution", "conversion", "aging", "segments", "lead", "matrix",
         "handoff", "handoff_review", "data", "rules", "routing", "data_quality",
         "segments?seg_by=Industry&seg_by2=Source", "lead?lead_q=L0000017"]
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage"]
MAX_BYTES = 300_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def olist_store(db: Path) -> None:
    """The Olist files imported into `db` through their mapping, with the CLI."""
    subprocess.run([sys.executable, "-m", "funnel.cli", "import", "--db", str(db), "--mapping",
                    str(ROOT / "sample_data" / "mappings" / "olist.toml"), *map(str, OLIST_FILES)],
                   check=True, cwd=ROOT, stdout=subprocess.DEVNULL)


def small_png(raw: bytes) -> bytes:
    """The screenshot as a palette PNG (under MAX_BYTES when it can be)."""
    from PIL import Image

    image = Image.open(io.BytesIO(raw)).convert("RGB")
    for colors in (256, 128, 64, 32):
        out = io.BytesIO()
        image.quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(out, format="PNG", optimize=True)
        if out.tell() < MAX_BYTES:
            break
    return out.getvalue()


QUIET = """() => {
  window.__changed = performance.now();
  new MutationObserver(() => { window.__changed = performance.now(); }).observe(document, {childList: true,
    subtree: true, characterData: true, attributes: true});
}"""


def settled(page, *, quiet_ms: int = 1000, timeout_ms: int = 60_000) -> None:
    """Waits until nothing on the page has changed for `quiet_ms` (charts drawn, on a busy machine too), at most
    `timeout_ms`."""
    page.evaluate(QUIET)
    try:
        page.wait_for_function(f"() => performance.now() - window.__changed > {quiet_ms}", timeout=timeout_ms,
                               polling=100)
    except Exception:  # noqa: BLE001 - a page that never stops changing is shot as it is, and said
        print(f"  still changing after {timeout_ms / 1000:.0f} s: shot as it is", flush=True)


def shoot(store: str, out: Path, pages: list[str]) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "funnel.duckdb"
        if store == "olist":
            olist_store(db)
        port = free_port()
        env = {**os.environ, "FUNNEL_DB": str(db), "FUNNEL_LOAD_SAMPLE": "1" if store == "sample" else "0"}
        server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port",
                                   str(port), "--server.address", "127.0.0.1", "--server.headless", "true"],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                        break
                except OSError:
                    time.sleep(0.3)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
                page = browser.new_page(viewport={"width": 1440, "height": 900})
                for name in pages:
                    page.goto(f"{url}/{name}", wait_until="networkidle")
                    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']",
                                           timeout=180_000)
                    page.wait_for_timeout(500)
                    settled(page)
                    # The app scrolls inside its main section, so the viewport grows to the page's height
                    # (the width stays 1440 px: what matters for sideways scrolling).
                    height = page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
                    page.set_viewport_size({"width": 1440, "height": min(max(900, height), 6000)})
                    page.wait_for_timeout(300)
                    settled(page)
                    raw = page.screenshot()
                    page.set_viewport_size({"width": 1440, "height": 900})
                    file_name = name.split("?")[0] + ("_" + name.split("=")[1].split("&")[0] if "?" in name else "")
                    (out / f"{store}_{file_name}.png").write_bytes(small_png(raw))
                    print(name, flush=True)
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=20)


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "sample"
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "docs" / "screens"
    only = sys.argv[3].split(",") if len(sys.argv) > 3 else PAGES
    shoot(which, target, only)
