"""Every page's first render and a click, timed in a real headless Chromium (Debian's, never a downloaded one)
on the bundled 3,000-lead sample, loaded before the server starts as `make run` loads it.

Usage: python benchmarks/browser_pages.py [--root CHECKOUT] [--repeat N] [--pages a,b]
  --root: the checkout whose app.py is served (default: this one), to time another commit with the same script.

For each page, in a fresh browser tab (a new session, as a shared link opens):
- first render: from navigation until the page's script has finished and its title is on screen; the first
  visit of the run (cold caches) and the median of N later visits (warm) are both reported;
- drawn: the median of N more visits, until the page stopped changing (charts drawn; the first render's
  measure ends when the script has finished and the title is shown, before the charts are drawn);
- click: the sidebar's ladder switch (every number on the page recomputes), from the click until the server's
  last message of the run it started and the main area's last change, once both stayed still for 300 ms
  (charts drawn after the run count); median of N clicks, alternating between the two ladders;
- row click: selecting the first row of the page's first selectable table (where the page has one), the same way.
Target (issue 12): first render ≤ 1 s, a click ≤ 300 ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic",
                 "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage"]
PAGES = ["overview", "monthly_review", "distribution", "conversion", "aging", "segments", "lead", "matrix",
         "handoff", "handoff_review", "data", "rules", "routing", "data_quality"]
# Installed in every tab before the app loads: the time of the last message from the server (each change of the
# page, and the end of each run, arrives as one), counted.
WATCH_SOCKET = """(() => {
  window.__messages = 0; window.__message = 0;
  const Plain = window.WebSocket;
  window.WebSocket = function (...args) {
    const socket = new Plain(...args);
    socket.addEventListener('message', () => { window.__messages += 1; window.__message = performance.now(); });
    return socket;
  };
  window.WebSocket.prototype = Plain.prototype;
  Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
})();"""
# The time of the last change to the page's main area. A click is answered once the server has sent something
# after it, and neither the server nor the main area has changed for QUIET_MS since: it took until the later of
# its last message and the last change (charts drawn after the run count). A fragment's run can be so short
# that the app's running state never reaches the page, so that state cannot mark its end.
WATCH_MAIN = """() => {
  if (window.__changed !== undefined) return;
  window.__changed = 0;
  new MutationObserver(() => { window.__changed = performance.now(); }).observe(
    document.querySelector("[data-testid='stMain']"), {childList: true, subtree: true, characterData: true});
}"""
QUIET_MS = 300
# From the document's start: the time of the last change anywhere in the page.
WATCH_DRAWN = """window.__drawn = 0;
new MutationObserver(() => { window.__drawn = performance.now(); }).observe(document, {childList: true, subtree: true,
  characterData: true});"""
IDLE = ("() => { const app = document.querySelector(\"[data-testid='stApp']\");"
        " return app && app.getAttribute('data-test-script-state') === 'notRunning'"
        " && !document.querySelector(\"[data-testid='stStatusWidget']\")"
        " && document.querySelector(\"[data-testid='stMain'] h1\") !== null; }")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def started_server(root: Path, db: Path) -> tuple[subprocess.Popen, str]:
    """The sample loaded into `db`, then `streamlit run` of `root`'s app.py on a free port, answering."""
    env = {**os.environ, "FUNNEL_DB": str(db), "FUNNEL_LOAD_SAMPLE": "1", "PYTHONPATH": str(root)}
    subprocess.run([sys.executable, "-m", "funnel.cli", "load-sample", "--db", str(db)], cwd=root, env=env,
                   check=True, capture_output=True, timeout=600)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(root / "app.py"), "--server.port",
                             str(port), "--server.address", "127.0.0.1", "--server.headless", "true"],
                            cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("the dashboard did not start within 90 s")


def render_seconds(context, url: str) -> tuple[float, object]:
    """Opens `url` in a new tab of `context`; seconds until the page's script finished with its title shown."""
    page = context.new_page()
    start = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.wait_for_function(IDLE, timeout=180_000, polling=20)
    return time.perf_counter() - start, page


def drawn_seconds(context, url: str) -> float:
    """Opens `url` in a new tab of `context`; seconds until its main area last changed before staying still for
    QUIET_MS after the script finished (the charts drawn, which the first render's measure does not wait for)."""
    page = context.new_page()
    page.add_init_script(WATCH_DRAWN)
    start = time.perf_counter()
    page.goto(url, wait_until="commit")
    origin = page.evaluate("performance.now()") - (time.perf_counter() - start) * 1000
    page.wait_for_function(IDLE, timeout=180_000, polling=20)
    page.wait_for_function(f"() => performance.now() - window.__drawn > {QUIET_MS}", timeout=60_000, polling=20)
    drawn = page.evaluate("window.__drawn")
    page.close()
    return (drawn - origin) / 1000


def click_seconds(page, click) -> float | None:
    """Seconds from `click()` until the page settled after the server answered it (None: no answer in 10 s)."""
    page.evaluate(WATCH_MAIN)
    before = page.evaluate("window.__messages")
    start = page.evaluate("performance.now()")
    click()
    settled = (f"() => window.__messages > {before} && performance.now() - Math.max(window.__message,"
               f" window.__changed) > {QUIET_MS}")
    try:
        page.wait_for_function(settled, timeout=10_000, polling=20)
        page.wait_for_function(IDLE, timeout=60_000, polling=20)
    except Exception:  # noqa: BLE001 - a click the server never answers is reported as missing, not as a failure
        return None
    return (max(page.evaluate("window.__message"), page.evaluate("window.__changed")) - start) / 1000


def ladder_click(page, ladder: str):
    return lambda: page.locator("[data-testid='stSidebar'] button", has_text=ladder).first.click(force=True)


def row_click(page):
    """Selects the first row of the page's first table (the row marker left of its first cell), or None."""
    grid = page.locator("[data-testid='stMain'] [data-testid='stDataFrame']").first
    if grid.count() == 0:
        return None
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    if box is None:
        return None
    return lambda: page.mouse.click(box["x"] + 18, box["y"] + 35 + 35 * 0.5)


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def shown(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1000:,.0f} ms"


def measured(url: str, pages: list[str], repeat: int) -> list[dict]:
    from playwright.sync_api import sync_playwright

    rows = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        for name in pages:
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            context.add_init_script(WATCH_SOCKET)
            first, page = render_seconds(context, f"{url}/{name}")
            page.close()
            warm = []
            for _ in range(repeat):
                seconds, page = render_seconds(context, f"{url}/{name}")
                warm.append(seconds)
                page.close()
            drawn = [drawn_seconds(context, f"{url}/{name}") for _ in range(repeat)]
            seconds, page = render_seconds(context, f"{url}/{name}")
            clicks = []
            for i in range(repeat):
                took = click_seconds(page, ladder_click(page, ("Funnel (behaviour)", "Lifecycle (CRM)")[i % 2]))
                if took is not None:
                    clicks.append(took)
            rows_clicked = []
            for _ in range(repeat):
                click = row_click(page)
                took = click_seconds(page, click) if click is not None else None
                if took is None:
                    break
                rows_clicked.append(took)
                page.keyboard.press("Escape")
            page.close()
            context.close()
            row = {"page": name, "first": first, "warm": median(warm), "drawn": median(drawn),
                   "click": median(clicks), "row": median(rows_clicked)}
            rows.append(row)
            print(f"{name:16} first {shown(row['first']):>9}  warm {shown(row['warm']):>9}  "
                  f"drawn {shown(row['drawn']):>9}  "
                  f"ladder click {shown(row['click']):>9}  row click {shown(row['row']):>9}", flush=True)
        browser.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to serve (default: this one)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pages", default=",".join(PAGES))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        proc, url = started_server(args.root.resolve(), Path(folder) / "funnel.duckdb")
        try:
            rows = measured(url, args.pages.split(","), args.repeat)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    over = [r["page"] for r in rows if (r["warm"] or 0) > 1 or max(r["click"] or 0, r["row"] or 0) > 0.3]
    print(f"over target (first render ≤ 1 s warm, a click ≤ 300 ms): {', '.join(over) or 'none'}")


if __name__ == "__main__":
    main()
