"""The served app in real Chromium: renders offline and cleanly, reacts to widgets, plays both
panes, restores a shared link in a fresh page, and explains a malformed link."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.ui

FIRST_FRAME_MS = (
    180_000  # a cold server simulates A and B first (a few seconds, more on a busy host)
)


def open_app(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0")
    page.wait_for_selector(".bk-Canvas")
    page.wait_for_function("() => (window.vmswapFrames || []).length > 0", timeout=FIRST_FRAME_MS)


def model(page: Page, name: str, attr: str):
    return page.evaluate("([n, a]) => Bokeh.documents[0].get_model_by_name(n)[a]", [name, attr])


def cards(page: Page) -> dict[str, tuple[str | None, str | None]]:
    out = {}
    for el in page.locator(".vm-card").all():
        out[el.get_attribute("data-metric")] = (
            el.get_attribute("data-a"),
            el.get_attribute("data-b"),
        )
    return out


def test_page_renders_offline_with_no_console_error(page: Page, app_url: str, shot) -> None:
    """Every request goes to the server itself; no console error, no page error; the panes,
    the cards and the legend are there."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(app_url))
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_viewport_size({"width": 1600, "height": 1000})
    open_app(page, app_url)
    expect(page.locator(".vm-card")).to_have_count(5)
    expect(page.locator(".vm-legend")).to_be_visible()
    for name in ("heatmap-a", "heatmap-b", "timeline-a", "timeline-b"):
        assert model(page, name, "name") == name
    shot("render")
    outside = [u for u in requests if not u.startswith((origin, "data:", "blob:"))]
    assert outside == [], f"requests left the server: {outside}"
    assert errors == []


@pytest.mark.slow  # 14-18 s quiet: a new seed is a new run of the default scenario, A and B
def test_changing_a_widget_changes_the_run(page: Page, app_url: str, shot) -> None:
    """Typing a new seed re-runs A and B (debounced): the cards change; a link of the new run
    lands in the address bar."""
    open_app(page, app_url)
    before = cards(page)
    seed = page.locator(".vm-field-seed input")
    seed.fill(str(int(seed.input_value()) + 11))
    seed.press("Enter")
    expect(page.locator('.vm-card[data-metric="major_faults"]')).not_to_have_attribute(
        "data-a", before["major_faults"][0] or "", timeout=FIRST_FRAME_MS
    )
    assert cards(page) != before
    shot("widget-changed")


def test_play_advances_both_panes(page: Page, app_url: str, shot) -> None:
    """Play moves the frame on, and both panes' now-cursors with it, by painted frames."""
    open_app(page, app_url)
    page.locator(".vm-btn-play button").click()
    page.wait_for_function(
        "() => (window.vmswapFrames || []).filter(f => f.frame >= 5).length > 0", timeout=60_000
    )
    shot("playing")
    page.locator(".vm-btn-play button").click()
    expect(page.locator(".vm-btn-play button")).to_contain_text("Play")
    page.wait_for_function(
        "() => { const d = Bokeh.documents[0], c = d.get_model_by_name('vmswap-clock');"
        " return c.painted_seq === c.seq && d.get_model_by_name('now-a').location"
        " === d.get_model_by_name('now-b').location; }"
    )
    assert model(page, "now-a", "location") > 0
    painted = page.evaluate("window.vmswapFrames.map(f => f.frame)")
    assert painted == sorted(painted) or 0 in painted  # forward (or wrapped by loop)
    assert model(page, "vmswap-clock", "painted_seq") >= 5


@pytest.mark.slow  # 13-14 s quiet: two pages, the second opened on the link to its frame
def test_a_share_link_round_trips_into_a_fresh_page(
    page: Page, app_url: str, browser, shot
) -> None:
    """Keys step the paused app; the address bar then carries the run and "Copy link" copies
    it; a new page opened on it shows the same scenario, policies and frame."""
    open_app(page, app_url)
    page.locator(".vm-legend").click()  # focus the page, not a widget
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("() => Bokeh.documents[0].get_model_by_name('vmswap-clock').frame === 3")
    page.wait_for_function("() => location.search.startsWith('?run=v1.')")
    page.wait_for_timeout(600)  # the URL is debounced: let the last step's link land
    link = page.url
    expect(page.locator(".vm-share-url input")).to_have_value(link)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.locator(".vm-btn-copy button").click()
    expect(page.locator(".vm-btn-copy button")).to_contain_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == link
    original = cards(page)
    fresh = browser.new_page()
    try:
        open_app(fresh, link)
        assert model(fresh, "vmswap-clock", "frame") == 3
        assert cards(fresh) == original
        expect(fresh.locator(".vm-frame")).to_have_attribute("data-frame", "3")
        fresh.screenshot(path=str(shot("shared-origin").parent / "ui-shared-fresh.png"))
    finally:
        fresh.close()


def test_a_malformed_link_shows_a_readable_message(page: Page, app_url: str, shot) -> None:
    """A damaged link explains itself in the page, shows no traceback, and the app still runs."""
    open_app(page, app_url + "?run=v1.this-is-not-a-link")
    message = page.locator(".vm-message")
    expect(message).to_contain_text("Could not open the shared link", timeout=30_000)
    assert "Traceback" not in message.inner_text()
    expect(page.locator(".vm-card")).to_have_count(5)
    shot("bad-link")
