"""A session's runner keeps nothing past its shutdown: a run's result (or exception) posted to
the session's loop but not yet delivered is dropped at shutdown, and whatever a run held is
released (collected and trimmed) after it is dropped, however the close and the run's end
interleave."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Callable

import pytest

from webapp import runner as runner_module
from webapp.runner import ThreadRunner

WAIT_S = 60.0  # generous: only a hung worker takes this long


class Big:
    """Stands for a run's result (a recording of hundreds of MB): weakly referenceable."""


class Loop:
    """A session's event loop that runs what was posted only when the test says."""

    def __init__(self) -> None:
        self.posted: list[Callable[[], None]] = []
        self.arrived = threading.Event()

    def post(self, fn: Callable[[], None]) -> None:
        self.posted.append(fn)
        self.arrived.set()

    def run(self) -> None:
        while self.posted:
            self.posted.pop(0)()


@pytest.fixture
def releases(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The delays of the releases the runner schedules (none runs)."""
    scheduled: list[float] = []
    monkeypatch.setattr(runner_module, "release_later_s", scheduled.append)
    return scheduled


def test_a_result_posted_before_shutdown_is_dropped_not_delivered(releases: list[float]) -> None:
    """A run that ends just before its session's runner shuts down (the close cancelled it
    first) is posted to a loop that will never deliver it: shutdown drops it, so nothing
    holds it once the worker is gone, and a release is scheduled; the loop, if it runs the
    callback after all, hands nothing over."""
    loop = Loop()
    delivered: list[object] = []
    ref: list[weakref.ref[Big]] = []

    def run() -> Big:
        big = Big()
        ref.append(weakref.ref(big))
        return big

    r = ThreadRunner(loop.post)
    r.submit(run, delivered.append)
    assert loop.arrived.wait(WAIT_S)
    assert releases == []
    r.shutdown()
    r.pool.shutdown(wait=True)
    gc.collect()
    assert ref[0]() is None, "the undelivered result outlived the runner's shutdown"
    assert releases == [runner_module.LATE_RELEASE_S]
    loop.run()
    assert delivered == []


def test_a_run_ending_after_shutdown_is_released_not_posted(releases: list[float]) -> None:
    """A run still going when the runner shuts down posts nothing when it ends and schedules
    a release of its own."""
    loop = Loop()
    started, go_on = threading.Event(), threading.Event()

    def run() -> Big:
        started.set()
        assert go_on.wait(WAIT_S)
        return Big()

    r = ThreadRunner(loop.post)
    r.submit(run, lambda result: None)
    assert started.wait(WAIT_S)
    r.shutdown()
    go_on.set()
    r.pool.shutdown(wait=True)
    assert loop.posted == []
    assert releases == [runner_module.LATE_RELEASE_S]


def test_a_result_delivered_before_shutdown_reaches_the_session(releases: list[float]) -> None:
    """The usual path is unchanged: a result the loop runs before shutdown is handed over
    once, an exception as the result, and nothing is released for it."""
    loop = Loop()
    delivered: list[object] = []
    r = ThreadRunner(loop.post)
    r.submit(lambda: 7, delivered.append)
    assert loop.arrived.wait(WAIT_S)
    loop.arrived.clear()
    loop.run()
    r.submit(lambda: 1 // 0, delivered.append)
    assert loop.arrived.wait(WAIT_S)
    loop.run()
    r.shutdown()
    r.pool.shutdown(wait=True)
    assert delivered[0] == 7
    assert isinstance(delivered[1], ZeroDivisionError)
    assert len(delivered) == 2
    assert releases == []
