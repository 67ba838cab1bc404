"""A closed session's memory is released once for sessions closing together, and never
forgotten for a session closing after a release started."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable
from typing import Any

import pytest

from webapp import lifecycle


class Later:
    """call_later that keeps what it was given, run when the test says."""

    def __init__(self) -> None:
        self.scheduled: list[Callable[[], None]] = []

    def __call__(self, delay_s: float, fn: Callable[[], None]) -> Any:
        self.scheduled.append(fn)


def test_sessions_closing_together_share_one_release(monkeypatch: pytest.MonkeyPatch) -> None:
    """Twenty sessions closing before the release runs schedule it once: one full collection
    holds the event loop, not twenty; a session closing after it started schedules another."""
    trims: list[int] = []
    monkeypatch.setattr(lifecycle, "trim_heap", lambda: trims.append(1))
    monkeypatch.setattr(lifecycle, "_pending", False)
    later = Later()
    scheduled = [lifecycle.release_later(later) for _ in range(20)]
    assert scheduled == [True] + [False] * 19
    assert len(later.scheduled) == 1
    later.scheduled.pop()()
    assert trims == [1]
    assert lifecycle.release_later(later) is True  # the next close is released too
    later.scheduled.pop()()
    assert trims == [1, 1]


def test_a_failing_release_does_not_block_the_next(monkeypatch: pytest.MonkeyPatch) -> None:
    """A release that fails is logged; the next closed session still gets a release."""

    def fail() -> None:
        raise OSError("no trim here")

    monkeypatch.setattr(lifecycle, "trim_heap", fail)
    monkeypatch.setattr(lifecycle, "_pending", False)
    later = Later()
    assert lifecycle.release_later(later) is True
    later.scheduled.pop()()
    assert lifecycle.release_later(later) is True


class SessionObject:
    """Stands for a closed session's controller (weakly referenceable)."""


@pytest.fixture
def trims(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The releases that ran (none trims), from a state with none pending or watched."""
    done: list[int] = []
    monkeypatch.setattr(lifecycle, "trim_heap", lambda: done.append(1))
    monkeypatch.setattr(lifecycle, "_pending", False)
    monkeypatch.setattr(lifecycle, "_watched", weakref.WeakSet())
    return done


def test_a_release_repeats_while_a_closed_sessions_object_is_alive(trims: list[int]) -> None:
    """A closed session whose controller something still holds at the release (a timer of
    its page) is released again, and once more after it is gone, then no more."""
    later = Later()
    held = SessionObject()
    assert lifecycle.release_later(later, held) is True
    later.scheduled.pop()()  # still held: the release schedules another
    assert trims == [1]
    assert len(later.scheduled) == 1
    del held  # the timer fired: the controller is garbage now
    gc.collect()
    later.scheduled.pop()()
    assert trims == [1, 1]
    assert later.scheduled == []


def test_a_session_held_for_good_stops_being_retried(trims: list[int]) -> None:
    """A closed session's object that never goes is released RELEASE_RETRIES more times,
    then forgotten: a later session's release is not repeated for it."""
    later = Later()
    leaked = SessionObject()
    lifecycle.release_later(later, leaked)
    while later.scheduled:
        later.scheduled.pop()()
    assert len(trims) == 1 + lifecycle.RELEASE_RETRIES
    lifecycle.release_later(later, SessionObject())  # gone by its release
    gc.collect()
    later.scheduled.pop()()
    assert later.scheduled == []
    assert leaked is not None


def test_a_destroyed_session_is_not_bokehs_global_document(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When Bokeh's process-wide document is the closed session's (Panel sets it so when
    Bokeh's curdoc stack is stale), the session's close replaces it, so that it holds none
    of the session; another document there is left alone."""
    from bokeh.document import Document
    from bokeh.io.state import curstate

    monkeypatch.setattr(lifecycle, "release_later", lambda *args, **kwargs: True)
    state = curstate()
    monkeypatch.setattr(state, "_document", state.document)  # given back after the test
    session_doc, other_doc = Document(), Document()
    state.document = session_doc
    lifecycle.on_destroyed(document=session_doc)(None)
    assert state.document is not session_doc
    kept = weakref.ref(session_doc)
    del session_doc
    gc.collect()
    assert kept() is None
    state.document = other_doc
    lifecycle.on_destroyed(document=Document())(None)
    assert state.document is other_doc
