"""Shortcut keys in real Chromium: Space plays and pauses from the page, but a focused button
keeps Space for itself (pressing it), so one key press never acts twice."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.ui.test_app import model, open_app

pytestmark = pytest.mark.ui


def test_space_on_a_focused_button_presses_only_that_button(page: Page, app_url: str) -> None:
    """With '+1' focused, Space steps one frame (the button's own press) and playback does
    not start; with the page focused, Space starts and stops playback."""
    open_app(page, app_url)
    play = page.locator(".vm-btn-play button")
    page.locator(".vm-btn-forward button").focus()
    page.keyboard.press("Space")
    page.wait_for_function("() => Bokeh.documents[0].get_model_by_name('vmswap-clock').frame === 1")
    page.wait_for_timeout(1000)  # a playback started by the same key would have moved on
    expect(play).to_contain_text("Play")
    assert model(page, "vmswap-clock", "frame") == 1

    page.locator(".vm-legend").click()  # the page, not a control, has the focus
    page.keyboard.press("Space")
    expect(play).to_contain_text("Pause", timeout=30_000)
    page.keyboard.press("Space")
    expect(play).to_contain_text("Play", timeout=30_000)
