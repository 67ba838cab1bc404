"""Shortcut keys in real Chromium: Space plays and pauses from the page, but a focused button
keeps Space for itself (pressing it), so one key press never acts twice."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.ui.test_app import model, open_app

pytestmark = pytest.mark.ui

# A shortcut acts only by setting the clock's `key` ('name:counter'), in the keydown handler
# itself: synchronously, before the key's default action (a focused button's press) is even
# sent to the server.
SHORTCUT_KEY = "() => Bokeh.documents[0].get_model_by_name('vmswap-clock').key"


def test_space_on_a_focused_button_presses_only_that_button(page: Page, app_url: str) -> None:
    """With '+1' focused, Space steps one frame (the button's own press) and no shortcut
    fires; with the page focused, Space is the play/pause shortcut."""
    open_app(page, app_url)
    play = page.locator(".vm-btn-play button")
    before = page.evaluate(SHORTCUT_KEY)
    page.locator(".vm-btn-forward button").focus()
    page.keyboard.press("Space")
    # The button's press has made the round trip to the server; a shortcut fired by the same
    # key press would have set the clock's key before that press left the page.
    page.wait_for_function("() => Bokeh.documents[0].get_model_by_name('vmswap-clock').frame === 1")
    assert page.evaluate(SHORTCUT_KEY) == before
    expect(play).to_contain_text("Play")
    assert model(page, "vmswap-clock", "frame") == 1

    page.locator(".vm-legend").click()  # the page, not a control, has the focus
    page.keyboard.press("Space")
    assert page.evaluate(SHORTCUT_KEY).startswith("toggle:")  # the same sign, when it acts
    expect(play).to_contain_text("Pause", timeout=30_000)
    page.keyboard.press("Space")
    expect(play).to_contain_text("Play", timeout=30_000)
