"""Many seeds in Chromium: the interval over seeds appears in the cards once the other seeds
are in, and the seed picker shows another seed."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from engine.policies import validate_policy
from tests.helpers import small_scenario
from tests.ui.test_app import FIRST_FRAME_MS, open_app
from tests.ui.test_controls import FITS_JS
from webapp import urlcodec
from webapp.state import default_policies

pytestmark = pytest.mark.ui

FAULTS = '.vm-card[data-metric="major_faults"]'


def test_the_interval_appears_and_another_seed_can_be_shown(page: Page, app_url: str, shot) -> None:
    """A small scenario with 3 seeds (from seed 1005): the faults card comes to read 'B − A
    over 3 seeds: … [lo, hi]' and the count 'seeds: 3 of 3'; the picker's labels fit it
    whole ("seed 1005 (the scenario's own)"); picking seed 1007 shows it, the interval stays."""
    data = {**small_scenario().to_dict(), "seed": 1005}
    a, b = default_policies(data["policy"])
    link = urlcodec.encode(data, validate_policy(a), validate_policy(b), n_seeds=3)
    page.set_viewport_size({"width": 1600, "height": 1000})
    open_app(page, f"{app_url}?run={link}")
    diff = page.locator(f"{FAULTS} .vm-card-seeds-diff")
    expect(diff).to_contain_text("B − A over 3 seeds:", timeout=FIRST_FRAME_MS)
    expect(diff).to_contain_text("[")
    expect(page.locator(".vm-seeds-progress")).to_have_text("seeds: 3 of 3")
    shot("seeds-interval")
    picker = page.locator(".vm-seed-picker select")
    expect(picker.locator("option")).to_have_count(3)
    assert picker.evaluate(FITS_JS) == []
    picker.select_option(label="seed 1007")
    expect(page.locator(".vm-cards-when")).to_contain_text("seed 1007 on display", timeout=60_000)
    expect(diff).to_contain_text("B − A over 3 seeds:")
    shot("seeds-picked")
