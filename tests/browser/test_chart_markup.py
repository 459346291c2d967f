"""Hostile values drawn by Plotly in real Chromium: shown as text, never as links, bold or line breaks."""

from __future__ import annotations

import plotly.io as pio
import pytest

from tests.test_chart_text import FIGURES, HOSTILE


@pytest.mark.parametrize("name", ["segment_rates", "distribution_area", "sankey", "recycle_reasons"])
def test_hostile_values_are_drawn_as_text(browser, tmp_path, name):
    html_file = tmp_path / f"{name}.html"
    html_file.write_text(pio.to_html(FIGURES[name], include_plotlyjs=True, full_html=True), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1600, "height": 1200})
    try:
        page.goto(html_file.as_uri())
        page.wait_for_selector(".main-svg", timeout=30_000)
        page.wait_for_timeout(300)
        svg = page.locator(".svg-container")
        assert page.locator(".main-svg a").count() == 0  # no link made from data (the modebar is not SVG)
        styles = page.eval_on_selector_all(".main-svg tspan", "els => els.map(e => e.getAttribute('style') || '')")
        assert not any("bold" in s or "99px" in s for s in styles)
        shown = svg.text_content()
        drawn = [raw for raw in HOSTILE if raw in shown]
        assert drawn, "no hostile value was drawn as text"
        assert '<a href="javascript:alert(1)">Z1</a>' in shown or name == "distribution_area" and "Z1" in shown
    finally:
        page.close()
