"""A session's statistics are for its page: while the page is closed (Bokeh keeps the session
up to half a minute after) no seed starts, a seed whose page closes mid-run stops at its next
step without holding the run another session may wait for, and the chain goes on, with the
same records, once the page is back."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from engine.policies import validate_policy
from webapp import shared_runs
from webapp.background import PAGE_POLL_S, BackgroundSeeds
from webapp.runner import PageClosed, SyncRunner, compute_seed, run_key
from webapp.seeds import SeedRecord, with_seed

A = validate_policy({"name": "demand"})
B = validate_policy({"name": "demand", "victims": "clock"})


class Page:
    """A page's open state as a session's `page_open` reads it: counts the looks, and closes
    itself at look number `close_at` (never when None)."""

    def __init__(self, open_now: bool = True, close_at: int | None = None):
        self.is_open = open_now
        self.close_at = close_at
        self.looks = 0

    def __call__(self) -> bool:
        self.looks += 1
        if self.close_at is not None and self.looks >= self.close_at:
            self.close_at = None
            self.is_open = False
        return self.is_open


@pytest.fixture
def uncached(monkeypatch):
    """Every run computed (none found in the cache of an earlier test)."""
    monkeypatch.setattr(shared_runs, "find", lambda key: None)


def in_flight(data: dict[str, Any], seed: int) -> bool:
    """Whether a run of the seed (A or B, figures only) is being computed now."""
    keys = [run_key(with_seed(data, seed), p, False) for p in (A, B)]
    return any(shared_runs.computing(k) for k in keys)


def test_a_seed_for_a_closed_page_stops_before_simulating(uncached, small_dict):
    """A seed asked for while its page is closed stops at its first look (before its
    unlimited-memory baseline), leaving no run in flight."""
    seed = int(small_dict["seed"]) + 11
    page = Page(open_now=False)
    with pytest.raises(PageClosed):
        compute_seed(small_dict, A, B, seed, threading.Event(), page_open=page)
    assert page.looks == 1
    assert not in_flight(small_dict, seed)


def test_a_page_closing_mid_run_stops_the_seed_and_lets_go_of_its_run(uncached, small_dict):
    """A page that closes while its seed simulates stops it at the next step (PageClosed)
    and leaves no run in flight: another session asking for the same run computes it rather
    than waiting for a page that may never come back."""
    seed = int(small_dict["seed"]) + 12
    page = Page(close_at=4)  # open for the baseline's look and two steps
    with pytest.raises(PageClosed):
        compute_seed(small_dict, A, B, seed, threading.Event(), page_open=page)
    assert page.looks == 4, "the seed ran on after its page closed"
    assert not in_flight(small_dict, seed)


def test_the_chain_waits_for_the_page_and_finishes_with_the_same_records(
    uncached, small_dict, timers
):
    """BackgroundSeeds whose page closes during a seed: nothing more runs while the page is
    closed, however long; once it is back that seed is computed again from the start, the
    others follow, and every record equals the seed's own."""
    base = int(small_dict["seed"])
    seeds = [base + 21, base + 22, base + 23]
    expected = [compute_seed(small_dict, A, B, s, threading.Event()) for s in seeds]
    counted = Page()
    compute_seed(small_dict, A, B, seeds[1], threading.Event(), page_open=counted)
    per_seed = counted.looks + 1  # its steps' looks and the chain's before it starts
    page = Page(close_at=per_seed + per_seed // 2)  # closes halfway through the second seed
    landed: list[SeedRecord] = []
    failed: list[Any] = []
    chain = BackgroundSeeds(
        SyncRunner, landed.append, lambda seed, exc: failed.append(exc), page, timers
    )
    chain.start((small_dict, A, B), seeds)
    assert not page.is_open
    n_landed, n_started, looks = len(landed), chain.runs_started, page.looks
    assert (n_landed, n_started) == (1, 2)
    timers.advance(60 * PAGE_POLL_S)
    assert (len(landed), chain.runs_started) == (n_landed, n_started), "ran on a closed page"
    assert page.looks > looks, "the chain stopped looking for its page"
    assert chain.running, "the page's statistics read as complete"
    page.is_open = True
    timers.advance(PAGE_POLL_S)
    assert failed == []
    assert landed == expected
    assert chain.runs_started == len(seeds) + 1, "the stopped seed was not computed again"
    assert not chain.running


def test_a_chain_stopped_while_its_page_is_closed_stays_stopped(uncached, small_dict, timers):
    """New inputs (the chain stopped) while the page was closed: the old seeds never run,
    even when the page comes back."""
    base = int(small_dict["seed"])
    page = Page(open_now=False)
    landed: list[SeedRecord] = []
    chain = BackgroundSeeds(SyncRunner, landed.append, lambda seed, exc: None, page, timers)
    chain.start((small_dict, A, B), [base + 31, base + 32])
    assert chain.runs_started == 0
    chain.stop()
    page.is_open = True
    timers.advance(10 * PAGE_POLL_S)
    assert chain.runs_started == 0 and landed == []
    assert not chain.running
