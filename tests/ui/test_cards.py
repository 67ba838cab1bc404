"""The metric cards in Chromium follow the frame: nothing counted at frame 0, the whole run
at the last frame, the whole-run figure always beside, labelled."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.ui.test_app import open_app

pytestmark = pytest.mark.ui

FAULTS = '.vm-card[data-metric="major_faults"]'


def test_cards_read_zero_at_frame_zero_and_the_whole_run_at_the_end(
    page: Page, app_url: str, shot
) -> None:
    """At frame 0 the faults card reads 0 with the whole run's figure beside it; at the last
    frame (End) its figure up to now is the whole run's."""
    page.set_viewport_size({"width": 1600, "height": 1000})
    open_app(page, app_url)
    card = page.locator(FAULTS)
    expect(page.locator(".vm-cards-when")).to_contain_text("(frame 0 of")
    assert card.get_attribute("data-a-now") == "0.0"
    whole = card.get_attribute("data-a")
    assert whole and float(whole) > 0
    expect(card).to_contain_text(f"whole run: {float(whole):,.0f}")
    shot("cards-frame-0")
    page.keyboard.press("End")
    expect(card).to_have_attribute("data-a-now", whole, timeout=30_000)
    expect(page.locator(".vm-cards-when")).not_to_contain_text("(frame 0 of")
    shot("cards-last-frame")
