"""User flows on real data in a real browser (Debian's Chromium): Olist imported through the Data page with its
mapping, X Education imported without one and corrected in the guided mapper, and a shared link opened in a
fresh browser. One server on a data folder holding three empty databases (funnel, olist, xed), no sample.

The datasets live outside the repository (see tests/test_real_data.py); each test is skipped, saying why,
when its files are absent."""

from __future__ import annotations

import os

import pytest

from funnel.store.db import connect
from tests.browser.conftest import CHROMIUM, ROOT, started_dashboard, stop, wait_for_app
from tests.test_real_data import MAPPINGS, OLIST_FILES, XED_FILES, needs

pytestmark = pytest.mark.browser
SHOTS = ROOT / "tests" / "browser" / "screenshots"
SHARED_QUERY = "db=olist&seg_by=source"


@pytest.fixture(scope="module")
def folder_server(tmp_path_factory):
    """`streamlit run app.py` on a data folder with the empty databases funnel (the default), olist and xed."""
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); .ci/run installs it")
    pytest.importorskip("playwright", reason="playwright (the Python driver) is not installed")
    folder = tmp_path_factory.mktemp("real_flows")
    for name in ("funnel", "olist", "xed"):
        connect(folder / f"{name}.duckdb").close()
    url, proc = started_dashboard(env={**os.environ, "FUNNEL_DB": str(folder / "funnel.duckdb"),
                                       "FUNNEL_LOAD_SAMPLE": "0"}, log=folder / "server.log")
    yield url
    stop(proc)


def choose(page, select, option: str) -> None:
    """Pick `option` in the select box `select` by clicking it in the open list (typed keys can be lost while a
    busy page is still opening the list), then wait for the rerun."""
    select.click()
    page.keyboard.type(option)
    page.get_by_role("option", name=option, exact=True).click(timeout=60_000)
    wait_for_app(page)


def grid_text(page, index: int = 0) -> str:
    """The cells a data grid shows (its accessible table), as one text."""
    grid = page.locator("[data-testid='stMain'] [data-testid='stDataFrame']").nth(index)
    grid.wait_for(timeout=60_000)
    grid.locator("[role='gridcell']").first.wait_for(state="attached", timeout=60_000)
    return " | ".join(grid.locator("[role='gridcell'], [role='columnheader']").all_inner_texts())


def upload(page, index: int, *files) -> None:
    page.locator("[data-testid='stFileUploaderDropzoneInput']").nth(index).set_input_files([str(f) for f in files])


@needs(OLIST_FILES)
def test_olist_through_the_data_page_shows_2018_and_what_moved_then_a_shared_link_opens_the_same_view(
        folder_server, page, browser):
    page.goto(f"{folder_server}/data?db=olist")
    wait_for_app(page)
    page.get_by_text("Import exports", exact=True).wait_for()
    upload(page, 0, MAPPINGS / "olist.toml")
    wait_for_app(page)
    upload(page, 1, *OLIST_FILES)
    page.get_by_role("button", name="Import 2 file(s)").click(timeout=120_000)
    page.get_by_text("olist_marketing_qualified_leads_dataset.csv → leads: 8000 rows").wait_for(timeout=180_000)
    assert page.get_by_text("Traceback").count() == 0

    page.goto(f"{folder_server}/overview?db=olist")
    wait_for_app(page)
    page.get_by_text("Now in each stage, and what moved").wait_for(timeout=60_000)
    as_of = page.get_by_label("As of", exact=True).inner_text().replace("\n", "").replace(" ", "")
    assert as_of.startswith("2018/"), as_of
    page.locator("[data-testid='stMetricDelta']").first.wait_for(timeout=60_000)
    deltas = page.locator("[data-testid='stMetricDelta']").all_inner_texts()
    assert any(d.strip().lstrip("+").lstrip("-").strip() not in ("0", "0.0%", "0.0 pts") for d in deltas), deltas
    assert "As of the end of" in page.get_by_text("As of the end of").inner_text()
    assert "2018" in page.get_by_text("As of the end of").inner_text()
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "olist_overview.png"), full_page=True)

    page.goto(f"{folder_server}/segments?{SHARED_QUERY}")
    wait_for_app(page)
    shown = grid_text(page)
    link = page.url
    assert "db=olist" in link
    fresh = browser.new_context(viewport={"width": 1400, "height": 1000})  # nothing shared but the link
    other = fresh.new_page()
    other.goto(link)
    wait_for_app(other)
    assert grid_text(other) == shown
    for view in (page, other):
        assert "db=olist" in view.url
        assert view.get_by_label("As of", exact=True).inner_text() == page.get_by_label("As of", exact=True).inner_text()
    other.screenshot(path=str(SHOTS / "olist_shared_segments.png"), full_page=True)
    fresh.close()


@needs(XED_FILES)
def test_x_education_without_a_mapping_is_corrected_in_the_mapper_and_shows_conversion_by_lead_origin(
        folder_server, page):
    page.goto(f"{folder_server}/data?db=xed")
    wait_for_app(page)
    page.get_by_text("Import exports", exact=True).wait_for()
    upload(page, 1, *XED_FILES)
    page.get_by_text("Map its columns").wait_for(timeout=120_000)
    page.get_by_text("What each analysis will show once the file is imported").wait_for(timeout=60_000)
    stage = page.get_by_label("lifecycle_stage", exact=True)
    choose(page, stage, "(none)")
    page.get_by_text("lifecycle_stage (the file's column Converted could supply it)").wait_for(timeout=60_000)
    assert page.get_by_role("button", name="Import 1 file(s)").count() == 0, "nothing imports half-mapped"
    choose(page, stage, "Converted")
    page.get_by_text("Lifecycle stages after this mapping").wait_for(timeout=60_000)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "xed_mapper.png"), full_page=True)
    page.get_by_role("button", name="Import 1 file(s)").click()
    page.get_by_text("Leads.csv → leads: 9240 rows").wait_for(timeout=180_000)

    page.goto(f"{folder_server}/segments?db=xed&seg_by=attr%3ALead+Origin")
    wait_for_app(page)
    cells = grid_text(page)
    assert "Landing Page Submission" in cells and "API" in cells and "Lead Add Form" in cells, cells
    assert "→ Customer" in cells
    page.screenshot(path=str(SHOTS / "xed_segments_lead_origin.png"), full_page=True)
    assert page.get_by_text("Traceback").count() == 0
