"""The guided first visit in Chromium: offered on a first visit, it loads patent_demo, walks
through the five views highlighting each, goes back, and closes with Esc leaving all else."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.ui.test_app import FIRST_FRAME_MS, open_app
from webapp.tour import DISMISSED_KEY, STEPS, TOUR_SCENARIO

pytestmark = pytest.mark.ui

IN_VIEW_JS = """
e => { const r = e.getBoundingClientRect();
       return r.width > 0 && r.height > 0 && r.bottom > 0 && r.top < window.innerHeight; }
"""


def check_step(page: Page, k: int) -> None:
    """The card shows step k's text, and the view it names is highlighted and on screen."""
    card = page.locator(".vm-tour-card")
    expect(card).to_have_attribute("data-step", str(k))
    expect(card.locator(".vm-tour-title")).to_have_text(STEPS[k].title)
    expect(card.locator(".vm-tour-text")).to_have_text(STEPS[k].text)
    lit = page.locator("[data-vm-tour=on]")
    expect(lit.first).to_be_visible(timeout=30_000)
    for el in lit.all():
        assert STEPS[k].target in (el.get_attribute("class") or "").split()
    expect(page.locator(f".{STEPS[k].target}[data-vm-tour=on]")).to_have_count(lit.count())
    expect(page.locator(".vm-tour-box")).to_be_visible()
    page.wait_for_function(f"({IN_VIEW_JS})", arg=lit.first.element_handle())


@pytest.mark.slow  # 12-15 s quiet: the tour switches to patent_demo, whose runs the server
# computes meanwhile, and waits for them
def test_tour_walks_the_five_views_and_esc_closes_it(page: Page, app_url: str, shot) -> None:
    """A first visit offers the tour; taking it loads patent_demo and shows each of the five
    views in turn (Enter steps on), Back returns one step, Esc closes it: the scenario stays
    patent_demo, no message appears, no request leaves the server, nothing is logged as an
    error, and the answer is remembered in this browser."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(app_url))
    outside: list[str] = []
    errors: list[str] = []
    page.on(
        "request",
        lambda r: None if r.url.startswith((origin, "data:", "blob:")) else outside.append(r.url),
    )
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_viewport_size({"width": 1600, "height": 1000})
    open_app(page, app_url)

    offer = page.locator(".vm-tour-offer")
    expect(offer).to_be_visible()
    offer.get_by_role("button", name="Take the tour").click()
    expect(offer).to_be_hidden()
    card = page.locator(".vm-tour-card")
    expect(card).to_be_visible()
    scenario = page.get_by_label("Scenario", exact=True)
    expect(scenario).to_have_value(TOUR_SCENARIO, timeout=30_000)

    for k in range(len(STEPS)):
        check_step(page, k)
        if k == 0:
            shot("tour-first-step")
        if k < len(STEPS) - 1:
            page.keyboard.press("Enter")  # Next has the focus: the card works from the keyboard
    expect(card.locator(".vm-tour-next")).to_have_text("Done")
    shot("tour-last-step")
    card.get_by_role("button", name="Back").click()
    check_step(page, len(STEPS) - 2)

    page.keyboard.press("Escape")
    expect(card).to_be_hidden()
    expect(page.locator("[data-vm-tour=on]")).to_have_count(0)
    expect(page.locator(".vm-tour-box")).to_have_count(0)
    # patent_demo's runs were computing meanwhile: once in, its own notice shows.
    expect(page.locator(".vm-notice")).to_contain_text("Follow one VM in B", timeout=FIRST_FRAME_MS)
    expect(scenario).to_have_value(TOUR_SCENARIO)
    expect(page.locator(".vm-message")).to_be_hidden()
    assert page.evaluate(f"() => localStorage.getItem('{DISMISSED_KEY}')") == "off"
    shot("tour-closed")
    assert outside == [], f"requests left the server: {outside}"
    assert errors == []


def test_tour_off_in_the_link_and_a_start_from_another_tab(page: Page, app_url: str) -> None:
    """With tour=off in the link no offer shows, but the Tour button does; started from the
    keyboard on the Traces tab, the tour brings the Compare tab forward to show its view, and
    the cross closes it."""
    page.set_viewport_size({"width": 1600, "height": 1000})
    open_app(page, f"{app_url}?tour=off")
    expect(page.locator(".vm-tour-offer")).to_be_hidden()
    page.locator(".bk-tab", has_text="Traces").click()
    expect(page.locator(".vm-tour-card")).to_be_hidden()
    button = page.locator(".vm-tour-button")
    button.focus()
    page.keyboard.press("Enter")
    check_step(page, 0)
    expect(page.locator(".bk-tab.bk-active")).to_have_text("Compare")
    page.get_by_role("button", name="Close the tour").click()
    expect(page.locator(".vm-tour-card")).to_be_hidden()
    expect(page.locator("[data-vm-tour=on]")).to_have_count(0)
