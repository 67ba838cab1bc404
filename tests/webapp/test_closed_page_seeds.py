"""A session's statistics are for its page: its background seeds wait while the page is closed
(Bokeh keeps the session up to half a minute after), stop when it closes mid-run without
holding the run another session may wait for, and go on, with the same records, once the page
is back."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from engine.policies import validate_policy
from webapp import runner as runner_module
from webapp import shared_runs
from webapp.background import BackgroundSeeds
from webapp.runner import Cancelled, PageClosed, SyncRunner, compute_seed, run_key
from webapp.seeds import SeedRecord, with_seed

WAIT_S = 120.0  # the longest a test waits for a thread (never reached when it passes)
A = validate_policy({"name": "demand"})
B = validate_policy({"name": "demand", "victims": "clock"})


class Page:
    """A page's open state as a session's `page_open` reads it: counts the looks, and closes
    itself at look number `close_at` (never when None)."""

    def __init__(self, open_now: bool = True, close_at: int | None = None):
        self.is_open = open_now
        self.close_at = close_at
        self.looks = 0
        self.closed_seen = threading.Event()  # someone looked while it was closed

    def __call__(self) -> bool:
        self.looks += 1
        if self.close_at is not None and self.looks >= self.close_at:
            self.close_at = None
            self.is_open = False
        if not self.is_open:
            self.closed_seen.set()
        return self.is_open


def in_thread(fn: Any) -> tuple[threading.Thread, list[Any]]:
    """fn() on a daemon thread; its result (or exception) lands in the list returned."""
    out: list[Any] = []

    def work() -> None:
        try:
            out.append(fn())
        except BaseException as exc:
            out.append(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread, out


@pytest.fixture
def uncached(monkeypatch):
    """Every run computed (none found in the cache of an earlier test)."""
    monkeypatch.setattr(shared_runs, "find", lambda key: None)


def test_a_seed_waits_for_its_closed_page_with_its_slot_free(uncached, small_dict):
    """A seed asked for a closed page computes nothing and frees its compute slot until the
    page is back; then its record is the one computed with the page open all along."""
    seed = int(small_dict["seed"]) + 11
    alone = compute_seed(small_dict, A, B, seed, threading.Event())
    page = Page(open_now=False)
    slots = runner_module._compute_slots

    def seed_in_a_slot() -> SeedRecord:
        with slots:
            runner_module._in_slot.held = True
            try:
                return compute_seed(small_dict, A, B, seed, threading.Event(), page_open=page)
            finally:
                runner_module._in_slot.held = False

    thread, out = in_thread(seed_in_a_slot)
    assert page.closed_seen.wait(WAIT_S)
    taken = [slots.acquire(timeout=WAIT_S) for _ in range(runner_module.COMPUTE_SLOTS)]
    assert all(taken), "the seed waiting for its page kept its compute slot"
    for _ in taken:
        slots.release()
    thread.join(0.5)
    assert out == [], "the seed ran while its page was closed"
    page.is_open = True
    thread.join(WAIT_S)
    assert out == [alone]


def test_cancelling_wakes_a_seed_waiting_for_its_page(small_dict):
    """The session ending (its cancel) ends the wait: Cancelled, not a page that never comes."""
    page = Page(open_now=False)
    cancel = threading.Event()
    thread, out = in_thread(lambda: compute_seed(small_dict, A, B, 5, cancel, page_open=page))
    assert page.closed_seen.wait(WAIT_S)
    cancel.set()
    thread.join(WAIT_S)
    assert len(out) == 1 and isinstance(out[0], Cancelled)
    assert not isinstance(out[0], PageClosed)


def test_a_page_closing_mid_run_stops_the_seed_and_lets_go_of_its_run(uncached, small_dict):
    """A page that closes while its seed simulates stops it at the next step (PageClosed)
    and leaves no run in flight: another session asking for the same run computes it rather
    than waiting for a page that may never come back."""
    seed = int(small_dict["seed"]) + 12
    page = Page(close_at=4)  # open for the first look (before the seed) and a few steps
    with pytest.raises(PageClosed):
        compute_seed(small_dict, A, B, seed, threading.Event(), page_open=page)
    assert page.looks == 4, "the seed ran on after its page closed"
    for policy in (A, B):
        key = run_key(with_seed(small_dict, seed), policy, False)
        assert not shared_runs.computing(key), "the stopped seed left its run in flight"


def test_the_chain_puts_a_stopped_seed_back_and_finishes_once_the_page_is_back(
    uncached, small_dict
):
    """BackgroundSeeds whose page closes during a seed: that seed is computed again from the
    start once the page is back, the others follow, and every record equals the seed's own."""
    base = int(small_dict["seed"])
    seeds = [base + 21, base + 22, base + 23]
    expected = [compute_seed(small_dict, A, B, s, threading.Event()) for s in seeds]
    page = Page(close_at=40)  # closes during some seed's run (a few dozen steps each)
    landed: list[SeedRecord] = []
    failed: list[Any] = []
    chain = BackgroundSeeds(
        SyncRunner, landed.append, lambda seed, exc: failed.append(exc), page_open=page
    )
    thread, _ = in_thread(lambda: chain.start((small_dict, A, B), seeds))
    assert page.closed_seen.wait(WAIT_S), "the page never closed: the seeds are too short"
    thread.join(0.5)
    assert thread.is_alive(), "the chain went on while the page was closed"
    n_landed = len(landed)
    page.is_open = True
    thread.join(WAIT_S)
    assert failed == []
    assert n_landed < len(seeds)
    assert landed == expected
    assert chain.runs_started == len(seeds) + 1, "the stopped seed was not computed again"
    assert not chain.running
