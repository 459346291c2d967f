"""Sign-in for real: a local OpenID Connect provider (oidc-provider-mock) on loopback, the dashboard served
with a temporary secrets file ([auth] and [team]), and Chromium going through the provider's login page.
An account off the team is refused; a viewer reads but cannot import or save rules; an admin imports
(recorded under their e-mail) and may save; sign-out ends the session."""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.apptest import copied
from tests.browser.conftest import CHROMIUM, free_port, started, started_dashboard, stop, wait_for_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]
USERS = {"ana@example.com": "Ana Admin", "cy@example.com": "Cy Viewer", "eve@evil.io": "Eve Outsider"}


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    """oidc-provider-mock on a free loopback port, with the test users registered."""
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    try:
        import oidc_provider_mock  # noqa: F401
        import playwright  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"{exc.name} is not installed (pip install -e '.[test]')")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = started([sys.executable, "-m", "oidc_provider_mock", "-H", "127.0.0.1", "-p", str(port)],
                   url=f"{url}/.well-known/openid-configuration", log=tmp_path_factory.mktemp("oidc") / "provider.log")
    for email, name in USERS.items():
        request = urllib.request.Request(f"{url}/users/{email}", method="PUT", headers={"Content-Type": "application/json"},
                                         data=json.dumps({"email": email, "name": name}).encode())
        urllib.request.urlopen(request, timeout=5).close()
    yield url
    stop(proc)


@pytest.fixture(scope="module")
def shared_server(provider, bundled_sample, tmp_path_factory):
    """The dashboard with sign-in: a temporary secrets file, a fresh data folder holding the sample (a copy
    of the store this test process loaded once)."""
    folder = tmp_path_factory.mktemp("signin")
    (folder / "data").mkdir()
    copied(bundled_sample, folder / "data" / "team.duckdb")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    secrets = folder / "secrets.toml"
    secrets.write_text(f'''[auth]
redirect_uri = "{url}/oauth2callback"
cookie_secret = "{os.urandom(24).hex()}"
client_id = "funnel-test"
client_secret = "anything"
server_metadata_url = "{provider}/.well-known/openid-configuration"

[team]
admin = ["ana@example.com"]
viewer = ["example.com"]
''', encoding="utf-8")
    env = {**os.environ, "FUNNEL_DB": str(folder / "data" / "team.duckdb"), "FUNNEL_LOAD_SAMPLE": "1"}
    url, proc = started_dashboard(env=env, log=folder / "server.log", options=("--secrets.files", str(secrets)),
                                  port=port)
    yield url
    stop(proc)


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield context
    context.close()


def sign_in(page, app: str, provider: str, email: str) -> None:
    """Through the provider's own login page, as a person would (one sign-in takes a few seconds)."""
    page.goto(app)
    wait_for_app(page)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{provider}/**", timeout=30_000)
    page.get_by_placeholder("sub").fill(email)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{app}/**", timeout=30_000)
    wait_for_app(page, timeout=120_000)


def test_an_account_off_the_team_is_refused(shared_server, provider, context):
    page = context.new_page()
    sign_in(page, shared_server, provider, "eve@evil.io")
    page.get_by_text("Your account is not on this dashboard's team list.").wait_for()
    assert page.get_by_text("Signed in as: eve@evil.io").count() == 1
    assert page.locator("[data-testid='stSidebar']").count() == 0 or page.get_by_text("Database").count() == 0
    assert page.get_by_text("Traceback").count() == 0


def test_a_viewer_reads_but_cannot_import_or_save_rules(shared_server, provider, context):
    page = context.new_page()
    sign_in(page, shared_server, provider, "cy@example.com")
    page.get_by_text("Cy Viewer · viewer").wait_for(timeout=120_000)
    page.goto(f"{shared_server}/data")
    wait_for_app(page)
    page.get_by_text("What the database holds").wait_for()
    page.get_by_text("Your role may not import files and save mappings").wait_for()
    assert page.locator("[data-testid='stFileUploaderDropzoneInput']").count() == 0
    assert page.get_by_role("button", name="Remove import").count() == 0
    page.goto(f"{shared_server}/rules")
    wait_for_app(page)
    page.get_by_text("In force now").wait_for()
    assert page.get_by_role("button", name="Save as a new version").count() == 0
    assert page.get_by_text("Traceback").count() == 0


def test_an_admin_imports_under_their_name_may_save_rules_and_signs_out(shared_server, provider, context,
                                                                       tmp_path: Path):
    page = context.new_page()
    sign_in(page, shared_server, provider, "ana@example.com")
    page.get_by_text("Ana Admin · admin").wait_for(timeout=120_000)
    export = tmp_path / "signed_leads.csv"
    export.write_text("lead_id,email,name,created_at,source,owner,lifecycle_stage\n"
                      "S-1,s1@example.com,Signed One,2026-10-01,Referral,,lead\n", encoding="utf-8")
    page.goto(f"{shared_server}/data")
    wait_for_app(page)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").nth(1).set_input_files(str(export))
    page.get_by_text("signed_leads.csv").first.wait_for(timeout=30_000)
    page.get_by_role("button", name="Import 1 file(s)").click()
    page.get_by_text("signed_leads.csv → leads: 1 rows (1 added").wait_for(timeout=60_000)
    wait_for_app(page)
    history = page.locator("[data-testid='stDataFrame']").last
    history.wait_for()
    page.goto(f"{shared_server}/rules")
    wait_for_app(page)
    page.get_by_role("button", name="Save as a new version").wait_for()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{provider}/**", timeout=30_000)
    page.get_by_role("button", name="End session").click()
    page.wait_for_url(f"{shared_server}/**", timeout=30_000)
    wait_for_app(page)
    page.get_by_role("button", name="Sign in").wait_for()
    assert page.get_by_text("Ana Admin · admin").count() == 0


SESSIONS = 20
PAGES = ("", "distribution", "conversion", "aging", "segments")
DAYS = ("2026-10-31", "2026-06-30")


def test_twenty_signed_in_sessions_open_pages_at_two_dates_at_once_without_an_error(shared_server, provider, browser):
    """One viewer signs in through the provider; 20 browser sessions carrying that sign-in then open every page at
    both as-of dates (each of the ten pairs twice), all requests in flight at the same time, bounded to the sample
    on loopback. No session sees an error or a traceback, and each stays signed in."""
    first = browser.new_context(viewport={"width": 1280, "height": 900})
    sign_in(first.new_page(), shared_server, provider, "cy@example.com")
    signed_in = first.storage_state()
    first.close()
    contexts = [browser.new_context(viewport={"width": 1280, "height": 900}, storage_state=signed_in,
                                reduced_motion="reduce")
                for _ in range(SESSIONS)]
    pages = [context.new_page() for context in contexts]
    try:
        for i, page in enumerate(pages):  # all requests first, so the server serves them concurrently
            page.goto(f"{shared_server}/{PAGES[i % len(PAGES)]}?as_of={DAYS[i % len(DAYS)]}", wait_until="commit",
                      timeout=120_000)
        for page in pages:
            wait_for_app(page, timeout=180_000)
            assert page.locator("[data-testid='stException']").count() == 0
            assert page.get_by_text("Traceback").count() == 0
        for page in pages:
            page.get_by_text("Cy Viewer · viewer").wait_for(timeout=60_000)
    finally:
        for context in contexts:
            context.close()
