"""The main flow in a real browser: open the dashboard and import a file through the Data page."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.conftest import ROOT, wait_for_app

pytestmark = pytest.mark.browser
SHOTS = ROOT / "tests" / "browser" / "screenshots"


def test_open_and_import_through_the_data_page(server, page, tmp_path: Path):
    export = tmp_path / "more_leads.csv"
    export.write_text("lead_id,email,name,created_at,source,owner,lifecycle_stage\n"
                      "B-1,b1@example.com,Browser One,2026-10-01,Referral,sdr.ana@acme.test,lead\n"
                      "B-2,b2@example.com,Browser Two,2026-10-02,Event,,mql\n")
    page.goto(f"{server}/data")
    wait_for_app(page)
    page.get_by_text("Import exports").wait_for()
    page.locator("[data-testid='stFileUploaderDropzoneInput']").nth(1).set_input_files(str(export))
    page.get_by_text("more_leads.csv").first.wait_for(timeout=30_000)
    page.get_by_role("button", name="Import 1 file(s)").click()
    page.get_by_text("more_leads.csv → leads: 2 rows (2 added").wait_for(timeout=30_000)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "data_import.png"), full_page=True)
    assert page.get_by_text("Traceback").count() == 0
