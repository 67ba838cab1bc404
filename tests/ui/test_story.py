"""The story a newcomer sees in the page: the scenario's notice beside the views, the heatmap
key, and the sidebar that belongs to the Compare tab only."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.ui.test_app import open_app

pytestmark = pytest.mark.ui


def test_notice_key_and_sidebar_per_tab(page: Page, app_url: str, shot) -> None:
    """The default scenario's notice and the heatmap key show beside the views; the sidebar
    (with Reset, New seed, Swap A↔B and predictive's Advanced fold) folds away on the Traces
    tab and comes back on Compare."""
    page.set_viewport_size({"width": 1600, "height": 1000})
    open_app(page, app_url)
    expect(page.locator(".vm-notice")).to_contain_text("what to notice", timeout=30_000)
    page.locator(".vm-legend-how summary").click()
    expect(page.locator(".vm-legend-how li")).to_have_count(6)
    expect(page.locator(".vm-legend-how")).to_contain_text("swapped: only on the swap device")
    sidebar = page.locator("#sidebar")
    for label in ("Reset", "New seed", "Swap A↔B"):
        expect(sidebar.get_by_role("button", name=label)).to_be_visible()
    expect(sidebar.locator(".vm-advanced")).to_have_count(1, timeout=60_000)
    shot("story")
    page.locator(".bk-tab", has_text="Traces").click()
    expect(sidebar).to_be_hidden()
    page.locator(".bk-tab", has_text="Compare").click()
    expect(sidebar).to_be_visible()
