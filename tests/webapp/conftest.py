"""Fixtures for the web app without a browser: manual timers, a small scenario's runs, and a
controller wired to a real Dashboard (Bokeh models without a server)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from engine.policies import validate_policy
from tests.helpers import small_scenario


class FakeTimers:
    """Timers that fire only when the test advances the clock."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.pending: list[tuple[float, int, Callable[[], None]]] = []
        self.seq = 0

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> Any:
        self.seq += 1
        item = (self.t + max(0.0, delay_s), self.seq, fn)
        self.pending.append(item)
        return item

    def cancel(self, handle: Any) -> None:
        if handle in self.pending:
            self.pending.remove(handle)

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        """Move the clock, running what falls due (in order, including what they schedule)."""
        end = self.t + seconds
        while True:
            due = sorted(p for p in self.pending if p[0] <= end)
            if not due:
                break
            item = due[0]
            self.pending.remove(item)
            self.t = max(self.t, item[0])
            item[2]()
        self.t = end


@pytest.fixture
def timers() -> FakeTimers:
    return FakeTimers()


@pytest.fixture(scope="session")
def small_dict() -> dict[str, Any]:
    return small_scenario().to_dict()


@pytest.fixture(scope="session")
def small_runs(small_dict: dict[str, Any]) -> Any:
    """A and B of the small scenario (demand against the second registered policy)."""
    from webapp.controller import compute_pair
    from webapp.state import default_policies

    a, b = default_policies(small_dict["policy"])
    return compute_pair(small_dict, validate_policy(a), validate_policy(b), threading.Event())


@pytest.fixture
def app(timers: FakeTimers, small_dict: dict[str, Any]) -> Any:
    """(state, controller, dashboard) with the small scenario loaded and run."""
    from engine import from_dict
    from webapp.controller import Controller, SyncRunner
    from webapp.state import SessionState, default_policies
    from webapp.views.dashboard import Dashboard

    state = SessionState()
    dashboard = Dashboard()
    urls: list[str] = []
    controller = Controller(state, dashboard, SyncRunner(), timers, urls.append, "http://x/app")
    controller.urls = urls  # type: ignore[attr-defined]
    a, b = default_policies(small_dict["policy"])
    controller._load(from_dict(small_dict), a, b, frame=0, vm=0, file="")
    assert state.runs is not None, state.message
    return state, controller, dashboard
