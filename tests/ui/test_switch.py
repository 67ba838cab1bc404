"""A scenario switch in real Chromium: the main area's plots stay the same Bokeh models at the
same sizes (the page is not laid out again), and they show the new scenario."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.ui.test_app import FIRST_FRAME_MS, open_app

pytestmark = pytest.mark.ui

FIGURES = ["heatmap-a", "heatmap-b", "timeline-a", "timeline-b", "cum-faults", "cum-stall"]
FIGURE_STATE_JS = """names => names.map(n => {
  const m = Bokeh.documents[0].get_model_by_name(n);
  return m ? [m.id, m.height] : null;
})"""


def test_a_switch_keeps_the_plots_and_their_sizes(page: Page, app_url: str, shot) -> None:
    """Picking density (2 VMs on 4 pCPUs) after quickstart (4 VMs on 2 pCPUs) keeps every
    figure of the main area, same model id and height, and the panes then show density."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.set_viewport_size({"width": 1600, "height": 1000})
    open_app(page, app_url)
    # The charts below the panes join the page once its first frame is painted.
    page.wait_for_function(f"n => ({FIGURE_STATE_JS})(n).every(Boolean)", arg=FIGURES)
    before = page.evaluate(FIGURE_STATE_JS, FIGURES)
    n0 = page.evaluate("window.vmswapFrames.length")
    page.locator("select").filter(has_text="patent_demo").first.select_option(label="density")
    page.wait_for_function("n => window.vmswapFrames.length > n", arg=n0, timeout=FIRST_FRAME_MS)
    assert page.evaluate(FIGURE_STATE_JS, FIGURES) == before
    legend = page.locator(".vm-legend").first
    expect(legend).to_contain_text("web")
    expect(legend).to_contain_text("db")
    shot("switch-density")
    assert errors == []
