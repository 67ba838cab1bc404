"""A page closed while its statistics compute: the server stops computing them. Bokeh keeps the
session up to half a minute after the page went, and its seeds kept a core busy for a page
nobody saw. (That the run a closed page's seed was computing is not held for another session
is tests/webapp/test_closed_page_seeds.py's.)"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from engine import load_scenario
from engine.policies import validate_policy
from tests.served import served_app
from tests.ui.test_app import FIRST_FRAME_MS, open_app
from webapp import urlcodec
from webapp.state import SCENARIO_DIR, default_policies

pytestmark = pytest.mark.ui

N_SEEDS = 6
QUIET_S = 2.0  # how long the server's CPU is read after the page closed
SUSPENDED = "a page closed while playing: its play is suspended"
WS_CLOSED = "WebSocket connection closed"  # Bokeh's log line when a page's socket closes
SUSPEND_WAIT_S = 60.0  # its last frame's watchdog fires 2 s after it (a busy machine: later)
QUIET_CPU_S = 0.5  # of which it may spend this much (the chain took a core: ~2 s)


def cpu_s(pid: int) -> float:
    """CPU time (user and system) the process has used, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_closed_page_stops_its_seeds_and_its_play(browser: Browser) -> None:
    """The quickstart with six seeds (a second or so each), playing: the page closes once two
    to four are in; for the next QUIET_S the server computes nothing, and its log says the
    closed page's play is suspended (a session counted as playing holds every session's
    background work to a trickle: tests/webapp/test_governor.py)."""
    data = load_scenario(SCENARIO_DIR / "quickstart.toml").to_dict()
    a, b = default_policies(data["policy"])
    link = urlcodec.encode(data, validate_policy(a), validate_policy(b), n_seeds=N_SEEDS)
    with served_app(name="closed-page-server", env={"VMSWAP_WARM": "none"}) as app:
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        open_app(page, f"{app.url}?run={link}")
        # Some seeds in, some still to come (whichever count the page is at when looked at).
        under_way = re.compile(rf"seeds: [2-{N_SEEDS - 2}] of {N_SEEDS}")
        expect(page.locator(".vm-seeds-progress")).to_contain_text(
            under_way, timeout=FIRST_FRAME_MS
        )
        page.locator(".vm-btn-play button").click()
        page.wait_for_timeout(500)
        closes = app.log_text().count(WS_CLOSED)
        page.close()
        # Bokeh hears the websocket close (a busy machine: later), then a step in progress ends.
        deadline = time.monotonic() + SUSPEND_WAIT_S
        while app.log_text().count(WS_CLOSED) == closes and time.monotonic() < deadline:
            time.sleep(0.1)
        assert app.log_text().count(WS_CLOSED) > closes, "the server never heard the page close"
        time.sleep(1.0)
        before = cpu_s(app.proc.pid)
        time.sleep(QUIET_S)
        spent = cpu_s(app.proc.pid) - before
        assert spent < QUIET_CPU_S, f"the server computed {spent:.2f} s for a closed page"
        deadline = time.monotonic() + SUSPEND_WAIT_S
        while SUSPENDED not in app.log_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert SUSPENDED in app.log_text(), "the closed page's play was not suspended"
