"""A real dashboard server and a real headless Chromium (Debian's package, never a downloaded one)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.apptest import copied

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(request, tmp_path_factory):
    """`streamlit run app.py` on a free localhost port with a fresh database holding the sample data, loaded
    before the server starts as `make run` loads it (a copy of the store this test process loaded once)."""
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); .ci/run installs it")
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.skip("playwright (the Python driver) is not installed")
    folder = tmp_path_factory.mktemp("browser")
    db = copied(request.getfixturevalue("bundled_sample"), folder / "funnel.duckdb")
    url, proc = started_dashboard(env={**os.environ, "FUNNEL_DB": str(db), "FUNNEL_LOAD_SAMPLE": "1"}, log=folder / "server.log")
    yield url
    stop(proc)


def started(cmd: list[str], *, url: str, log: Path, env: dict | None = None, cwd: Path | None = None,
            ) -> subprocess.Popen:
    """A server process, once `url` answers (within 60 s); what it prints goes to `log` (a pipe nobody read
    could fill and stall it), and a server that never answers fails the test with the end of that log."""
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return proc
        except OSError:
            time.sleep(0.3)
    stop(proc)
    tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
    pytest.fail(f"{cmd[0]} did not answer at {url} within 60 s; its output ended:\n{tail}")


def started_dashboard(*, env: dict, log: Path, options: tuple[str, ...] = (), port: int | None = None,
                      ) -> tuple[str, subprocess.Popen]:
    """`streamlit run app.py` on `port` (default: a free one) on loopback, with more command-line `options`,
    once it answers."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    proc = started([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
                    "--server.address", "127.0.0.1", "--server.headless", "true", *options],
                   url=f"{url}/_stcore/health", log=log, env=env, cwd=ROOT)
    return url, proc


def stop(proc: subprocess.Popen) -> None:
    """Ends a server process started by a test: terminate, then kill if it does not exit within 10 s."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium per test process; each test opens its own context (its own cookies and storage)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, tmp_path):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    yield page
    context.close()


def wait_for_app(page, timeout: float = 60_000) -> None:
    """Waits until Streamlit has finished running the script (no spinner, no 'running' state)."""
    page.wait_for_selector("[data-testid='stApp']", timeout=timeout)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout, polling=100)
    page.wait_for_timeout(300)
