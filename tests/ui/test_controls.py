"""Controls a reader must see whole: the speed select's labels fit, and a transport button's
tooltip covers none of the other transport buttons."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.ui.test_app import open_app

pytestmark = pytest.mark.ui

TRANSPORT = ("first", "back-n", "back", "play", "forward", "forward-n", "last")

FITS_JS = """el => {
  const cs = getComputedStyle(el);
  const ctx = document.createElement('canvas').getContext('2d');
  ctx.font = cs.font;
  const room = el.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
  return [...el.options].filter(o => ctx.measureText(o.text).width > room).map(o => o.text);
}"""


def overlap(a: dict, b: dict) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def test_speed_labels_fit_and_tooltips_leave_the_buttons_free(page: Page, app_url: str) -> None:
    """Every speed label ("max (every frame)" included) fits its select without truncation;
    hovering Play, +1 or −1 shows a tooltip that overlaps no other transport button."""
    page.set_viewport_size({"width": 1600, "height": 1000})
    open_app(page, app_url)
    assert page.locator(".vm-speed select").evaluate(FITS_JS) == []
    boxes = {n: page.locator(f".vm-btn-{n} button").bounding_box() for n in TRANSPORT}
    for name in ("play", "forward", "back"):
        page.locator(f".vm-btn-{name} button").hover()
        tip = page.locator(".bk-Tooltip").last
        expect(tip).to_be_visible(timeout=10_000)
        box = tip.bounding_box()
        assert box is not None
        covered = [n for n, b in boxes.items() if n != name and b and overlap(box, b)]
        assert covered == [], f"the tooltip of {name} covers {covered}"
        page.mouse.move(2, 2)
        expect(page.locator(".bk-Tooltip")).to_have_count(0, timeout=10_000)
