"""Best demand in Chromium: ticking it on side A of a short scenario runs the readahead
settings, and the page names the one chosen; the address bar's link carries the choice."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from engine.policies import validate_policy
from tests.helpers import small_scenario
from tests.ui.test_app import FIRST_FRAME_MS, open_app
from webapp import urlcodec

pytestmark = pytest.mark.ui

RUN_MS = 120_000  # seven short candidates and the pair: seconds, more on a busy host


def test_best_demand_on_side_a_names_the_setting_chosen(page: Page, app_url: str, shot) -> None:
    """The small scenario with one seed: ticking "best demand" under A's policy makes A's
    title read "best demand: <setting> (the least lost time of 7 readahead settings …)" and
    its cards "best demand: <setting>"; the share link in the address bar lists side A."""
    data = small_scenario(seed=23).to_dict()
    a, b = validate_policy({"name": "demand"}), validate_policy({"name": "predictive"})
    page.set_viewport_size({"width": 1600, "height": 1000})
    open_app(page, f"{app_url}?run={urlcodec.encode(data, a, b, n_seeds=1)}")
    box = page.locator(".vm-best-demand-a input[type=checkbox]")
    box.wait_for(timeout=FIRST_FRAME_MS)
    expect(page.locator(".vm-best-demand-b input[type=checkbox]")).to_have_count(0)
    box.check()
    title = page.locator(".vm-pane-title.vm-pane-a")
    expect(title).to_contain_text("best demand: ", timeout=RUN_MS)
    expect(title).to_contain_text("the least lost time of 7 readahead settings")
    expect(title).to_contain_text("on seed 23); the other seeds keep this setting")
    expect(page.locator(".vm-card .vm-tag-a").first).to_contain_text("best demand: ")
    expect(page.locator(".vm-message")).to_be_hidden()
    assert linked_sides(page) == ("A",)
    shot("best-demand")


def linked_sides(page: Page, wait_ms: int = 20_000) -> tuple[str, ...]:
    """The best-demand sides of the link in the address bar, once it lists any (the link
    is written a moment after the runs are shown)."""
    sides: tuple[str, ...] = ()
    for _ in range(wait_ms // 250):
        query = parse_qs(urlsplit(page.url).query).get("run")
        sides = urlcodec.decode(query[0]).best_demand if query else ()
        if sides:
            break
        page.wait_for_timeout(250)
    return sides
