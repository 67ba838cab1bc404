"""A release collects on the caller's thread (the event loop) and trims the heap on a worker
the caller does not wait for; trims never overlap, one waiting serves later requests, and
the server's log tells how long each part took."""

from __future__ import annotations

import gc
import logging
import threading
import weakref
from typing import Any

import pytest

from webapp import lifecycle

WAIT_S = 60.0  # generous: a thread start on a busy machine


class BlockingLibc:
    """Stands for glibc: malloc_trim waits until the test lets it go, and says on which
    thread it ran."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.entered = threading.Semaphore(0)
        self.threads: list[str] = []
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()

    def malloc_trim(self, pad: int) -> int:
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            self.threads.append(threading.current_thread().name)
        self.entered.release()
        self.go.wait(WAIT_S)
        with self._lock:
            self.running -= 1
        return 1


@pytest.fixture
def libc(monkeypatch: pytest.MonkeyPatch) -> Any:
    fake = BlockingLibc()
    monkeypatch.setattr(lifecycle, "_LIBC", fake)
    monkeypatch.setattr(lifecycle, "_trim_queued", False)
    yield fake
    fake.go.set()


class Cycle:
    """Garbage only a collection frees (it refers to itself)."""

    def __init__(self) -> None:
        self.me = self


def _wait_for(predicate: Any) -> bool:
    done = threading.Event()
    for _ in range(int(WAIT_S / 0.01)):
        if predicate():
            return True
        done.wait(0.01)
    return False


def test_the_collection_runs_here_and_the_trim_on_a_worker(libc: BlockingLibc) -> None:
    """trim_heap frees cyclic garbage before it returns, on the caller's thread, and returns
    while the heap trim still runs, on another thread."""
    garbage = Cycle()
    ref = weakref.ref(garbage)
    del garbage
    gc.disable()  # only trim_heap's own collection may free it
    try:
        lifecycle.trim_heap()
        assert ref() is None
    finally:
        gc.enable()
    assert libc.entered.acquire(timeout=WAIT_S), "no trim ran"
    assert libc.running == 1  # still trimming: trim_heap did not wait for it
    assert libc.threads == ["vmswap-trim"] != [threading.current_thread().name]


def test_trims_never_overlap_and_one_waiting_serves_later_requests(libc: BlockingLibc) -> None:
    """While one trim runs, the next request starts one that waits; further requests join it;
    only one trim runs at a time."""
    assert lifecycle.trim_later() is True
    assert libc.entered.acquire(timeout=WAIT_S)
    assert lifecycle.trim_later() is True  # waits for the first: it may free more
    assert [lifecycle.trim_later() for _ in range(5)] == [False] * 5
    libc.go.set()
    assert libc.entered.acquire(timeout=WAIT_S)
    assert _wait_for(lambda: libc.running == 0 and not lifecycle._trim_queued)
    assert len(libc.threads) == 2 and libc.most_at_once == 1
    assert lifecycle.trim_later() is True  # nothing waits now: a new one starts


def test_a_release_logs_how_long_its_parts_took(
    libc: BlockingLibc, caplog: pytest.LogCaptureFixture
) -> None:
    """The server's log says how long the collection held the caller's thread, what it
    freed, and how long the trim took on its worker."""
    libc.go.set()
    with caplog.at_level(logging.INFO, logger="webapp.lifecycle"):
        lifecycle.trim_heap()
        assert _wait_for(lambda: any("heap trim" in r.message for r in caplog.records))
    line = next(r.message for r in caplog.records if "heap trim" in r.message)
    here = threading.current_thread().name
    assert "full collection " in line and f" ms on {here} (" in line
    assert "objects freed), heap trim " in line and line.endswith(" ms on a worker")


def test_without_glibc_the_release_still_collects(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the C library has no malloc_trim, a release collects and says there was no trim,
    and no trim is left waiting."""
    monkeypatch.setattr(lifecycle, "_LIBC", None)
    monkeypatch.setattr(lifecycle, "_trim_queued", False)
    heard: list[float | None] = []
    ended = threading.Event()
    assert lifecycle.trim_later(lambda ms: (heard.append(ms), ended.set())) is True
    assert ended.wait(WAIT_S)
    assert heard == [None] and not lifecycle._trim_queued
