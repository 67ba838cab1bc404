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
    """The releases that ran (none collects or trims): 1 for a full collection, 0 for the
    young generations only; from a state with none pending or watched."""
    done: list[int] = []
    monkeypatch.setattr(lifecycle, "trim_heap", lambda: done.append(1))
    monkeypatch.setattr(lifecycle, "collect_young", lambda: done.append(0))
    monkeypatch.setattr(lifecycle, "_pending", False)
    monkeypatch.setattr(lifecycle, "_watched", weakref.WeakKeyDictionary())
    monkeypatch.setattr(lifecycle, "_alive_after_full", 0)
    monkeypatch.setattr(lifecycle, "_young_only", 0)
    monkeypatch.setattr(lifecycle, "_full_due", False)
    monkeypatch.setattr(lifecycle, "_repeats_left", 0)
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
    then forgotten: a later session's release is not repeated for it. As nothing lets go of
    it, those repeats collect the young generations only, but one in FULL_AT_LEAST_EVERY
    collects in full, and so does the last."""
    later = Later()
    leaked = SessionObject()
    lifecycle.release_later(later, leaked)
    while later.scheduled:
        later.scheduled.pop()()
    assert len(trims) == 1 + lifecycle.RELEASE_RETRIES
    every = lifecycle.FULL_AT_LEAST_EVERY
    last = len(trims) - 1
    assert trims == [int(i % every == 0 or i == last) for i in range(len(trims))]
    assert trims.count(0) >= lifecycle.RELEASE_RETRIES // 2
    lifecycle.release_later(later, SessionObject())  # gone by its release
    gc.collect()
    later.scheduled.pop()()
    assert later.scheduled == []
    assert leaked is not None


def test_a_repeat_collects_in_full_once_a_holder_lets_go(trims: list[int]) -> None:
    """A repeat while the closed session's object is held as at the last full collection
    collects the young generations only; once a holder lets go of it (it may now be garbage
    in a cycle) the next repeat collects in full."""
    later = Later()
    held = SessionObject()
    holders = [held, held]
    lifecycle.release_later(later, held)
    later.scheduled.pop()()
    later.scheduled.pop()()
    assert trims == [1, 0]
    holders.pop()  # one holder let go
    later.scheduled.pop()()
    assert trims == [1, 0, 1]
    later.scheduled.pop()()
    assert trims == [1, 0, 1, 0]
    assert holders == [held]


def test_a_session_closing_meanwhile_gets_a_full_collection(trims: list[int]) -> None:
    """A session closing while another's object is still held is released with a full
    collection, even when it gives nothing to watch."""
    later = Later()
    held = SessionObject()
    lifecycle.release_later(later, held)
    later.scheduled.pop()()
    assert lifecycle.release_later(later) is False  # joins the repeat already scheduled
    later.scheduled.pop()()
    assert trims == [1, 1]
    later.scheduled.pop()()
    assert trims == [1, 1, 0]
    assert held is not None


def test_a_failed_full_collection_is_not_skipped_next_time(
    monkeypatch: pytest.MonkeyPatch, trims: list[int]
) -> None:
    """When a close's release fails, the repeat after it still collects in full."""

    def fail() -> None:
        raise OSError("no collection here")

    later = Later()
    held = SessionObject()
    monkeypatch.setattr(lifecycle, "trim_heap", fail)
    lifecycle.release_later(later, held)
    later.scheduled.pop()()
    monkeypatch.setattr(lifecycle, "trim_heap", lambda: trims.append(1))
    later.scheduled.pop()()
    assert trims == [1]
    assert held is not None


def test_the_reference_count_check_holds_no_reference_itself() -> None:
    """Checking whether a full collection could help does not itself hold the watched
    objects: asked twice with nothing changed, it says no both times."""
    watched = SessionObject()
    saved = (lifecycle._watched, lifecycle._alive_after_full, lifecycle._young_only)
    saved_due = lifecycle._full_due
    try:
        lifecycle._watched = weakref.WeakKeyDictionary({watched: -1})
        lifecycle._young_only, lifecycle._full_due = 0, False
        assert lifecycle.needs_full_collection() is True  # never collected since watched
        lifecycle._note_survivors()
        assert lifecycle.needs_full_collection() is False
        assert lifecycle.needs_full_collection() is False
        again = watched
        assert lifecycle.needs_full_collection() is True
        del again
        assert lifecycle.needs_full_collection() is False
    finally:
        lifecycle._watched, lifecycle._alive_after_full, lifecycle._young_only = saved
        lifecycle._full_due = saved_due


def test_a_session_closing_during_the_repeats_gets_all_of_its_own(trims: list[int]) -> None:
    """A session that closes while another's repeats go on (joining the one scheduled) is
    still repeated RELEASE_RETRIES times after its own first release, not only the others'
    remaining ones."""
    later = Later()
    first = SessionObject()
    lifecycle.release_later(later, first)
    for _ in range(lifecycle.RELEASE_RETRIES - 1):
        later.scheduled.pop()()
    assert len(later.scheduled) == 1  # the first session's last repeat is scheduled
    second = SessionObject()
    assert lifecycle.release_later(later, second) is False  # joins it
    before = len(trims)
    while later.scheduled:
        later.scheduled.pop()()
    assert len(trims) - before == 1 + lifecycle.RELEASE_RETRIES  # its release, its repeats
    assert trims[before] == 1  # its first release collects in full
    assert first is not None and second is not None


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
