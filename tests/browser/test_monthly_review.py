"""The revenue leader's flow in a real browser: open the monthly review, change the month and the
dimension, download the HTML report and open it offline (file://) in Chromium."""

from __future__ import annotations

import pytest

from tests.browser.conftest import ROOT, wait_for_app

pytestmark = pytest.mark.browser
SHOTS = ROOT / "tests" / "browser" / "screenshots"


def choose(page, label: str, option: str) -> None:
    page.get_by_label(label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_for_app(page)


def test_review_change_month_and_dimension_then_open_the_report_offline(server, page, browser, tmp_path):
    page.goto(f"{server}/monthly_review")
    wait_for_app(page)
    page.get_by_text("Headline numbers").wait_for(timeout=60_000)
    choose(page, "Month", "2026-08")
    page.wait_for_function("() => location.search.includes('review_month=2026-08')", timeout=30_000)
    choose(page, "Segments by", "Industry")
    page.get_by_text("Segment health by industry").wait_for(timeout=60_000)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "monthly_review_page.png"), full_page=True)

    button = page.get_by_text("Download the HTML report")
    button.wait_for(timeout=30_000)
    with page.expect_download(timeout=120_000) as download:
        button.click()
    report = tmp_path / "review.html"
    download.value.save_as(str(report))
    text = report.read_text(encoding="utf-8")
    assert "Monthly review: 2026-08" in text and "industry" in text

    offline = browser.new_context(viewport={"width": 1300, "height": 1000}, offline=True)
    requests, errors = [], []
    viewer = offline.new_page()
    viewer.on("request", lambda r: None if r.url.startswith(("file:", "data:")) else requests.append(r.url))
    viewer.on("pageerror", lambda e: errors.append(str(e)))
    viewer.goto(report.as_uri())
    viewer.wait_for_selector(".main-svg", timeout=60_000)
    viewer.wait_for_timeout(500)
    assert viewer.locator(".js-plotly-plot").count() == 4  # distribution, conversion, mix/rate, segment rates
    assert requests == [] and errors == []
    viewer.screenshot(path=str(SHOTS / "monthly_review_report.png"), full_page=True)
    offline.close()
