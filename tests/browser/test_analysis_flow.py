"""The analyst's flow in a real browser: change the as-of date, open the leads behind a count, share the link."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.conftest import ROOT, wait_for_app

pytestmark = pytest.mark.browser
SHOTS = ROOT / "tests" / "browser" / "screenshots"


def test_as_of_date_changes_the_numbers_and_a_row_opens_its_leads(server, page):
    page.goto(f"{server}/distribution")
    wait_for_app(page)
    page.get_by_text("Stage distribution").first.wait_for()
    page.get_by_text("Leads by stage at each month end").wait_for(timeout=30_000)
    assert "as_of" not in page.url

    date_box = page.get_by_label("As of", exact=True)
    date_box.locator("[role='spinbutton']").first.click()  # the year segment of the date field
    page.keyboard.type("20250630")
    page.keyboard.press("Enter")
    page.get_by_text("Stage distribution").first.click()  # leave the field: the value is committed
    page.wait_for_function("() => location.search.includes('as_of=2025-06-30')", timeout=30_000)
    wait_for_app(page)

    grid = page.locator("[data-testid='stDataFrame']").first
    grid.wait_for()
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 35 * 1.5)  # the row marker of the second row ("lead")
    page.get_by_text("Leads in lead:").wait_for(timeout=30_000)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "distribution_drilldown.png"), full_page=True)
    page.get_by_text("Download CSV").first.wait_for(timeout=30_000)
    with page.expect_download(timeout=60_000) as download:
        page.get_by_text("Download CSV").first.click()
    body = Path(download.value.path()).read_bytes()
    assert body.startswith(b"\xef\xbb\xbf") and b'"lead_id"' in body.splitlines()[0]
    assert body.count(b"\n") >= 600  # the 607 leads in "lead" on that day, plus the header

    shared = page.url  # the view travels with its link
    page.goto(shared)
    wait_for_app(page)
    assert page.get_by_label("As of", exact=True).inner_text().replace("\n", "").replace(" ", "") == "2025/06/30"
