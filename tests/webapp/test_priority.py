"""Background work gives way to a waiting visitor: it pauses between simulation steps while a
hold is on, and resumes when the hold is released, lapses, or the work is cancelled."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from engine import from_dict
from engine.policies import validate_policy
from webapp import priority
from webapp.runner import run_one
from webapp.seeds import with_seed

LONG_S = 600.0  # a hold that cannot lapse during a test


def paused_wait(cancel: threading.Event) -> tuple[threading.Thread, threading.Event]:
    """A background thread in yield_to_foreground, and the event it sets on return."""
    returned = threading.Event()

    def work() -> None:
        priority.yield_to_foreground(cancel)
        returned.set()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread, returned


@pytest.fixture(autouse=True)
def no_holds():
    """Each test starts and ends with no hold on."""
    priority._holds.clear()
    yield
    priority._holds.clear()


def test_nobody_waiting_means_no_pause():
    """With no hold, background work goes straight on."""
    assert not priority.held()
    _, returned = paused_wait(threading.Event())
    assert returned.wait(30)


def test_a_hold_pauses_background_work_until_released():
    """While a visitor's hold is on the background thread stays paused; release resumes it."""
    hold_id = priority.hold(LONG_S)
    assert priority.held()
    thread, returned = paused_wait(threading.Event())
    assert not returned.wait(0.3)
    priority.release(hold_id)
    assert returned.wait(30)
    thread.join(30)
    assert not priority.held()


def test_a_hold_lapses_by_itself():
    """A hold whose time is up pauses nothing (a page that never paints stops nothing)."""
    priority.hold(0.0)
    assert not priority.held()
    _, returned = paused_wait(threading.Event())
    assert returned.wait(30)


def test_cancelling_wakes_a_paused_run():
    """A paused run that is cancelled returns (to raise Cancelled) though the hold is on."""
    priority.hold(LONG_S)
    cancel = threading.Event()
    _, returned = paused_wait(cancel)
    assert not returned.wait(0.3)
    cancel.set()
    assert returned.wait(30)


def test_a_session_hold_is_replaced_not_stacked():
    """Starting a session's hold again replaces it; ending it leaves no hold behind."""
    waiting = priority.SessionHold(LONG_S)
    waiting.start()
    waiting.start()
    assert len(priority._holds) == 1
    waiting.end()
    waiting.end()
    assert not priority.held()


def test_background_runs_ask_to_yield_between_steps(small_dict: dict[str, Any]):
    """A run given `yield_to` calls it with its cancel flag after its steps."""
    calls: list[threading.Event] = []
    data = with_seed(small_dict, small_dict["seed"] + 2001)  # a run no test has cached
    cancel = threading.Event()
    demand = validate_policy({"name": "demand"})
    run_one(from_dict(data), data, demand, cancel, yield_to=calls.append)
    assert calls and all(c is cancel for c in calls)


def test_background_runs_wait_before_their_baseline(monkeypatch, small_dict: dict[str, Any]):
    """Background work asks to yield before the unlimited-memory baseline (which cannot
    pause inside), and a run cancelled while it waited never starts that baseline."""
    from webapp import runner as runner_module

    order: list[str] = []
    monkeypatch.setattr(runner_module, "baseline_references", lambda s: order.append("baseline"))
    data = with_seed(small_dict, small_dict["seed"] + 2002)
    cancel = threading.Event()

    def cancelled_while_waiting(flag: threading.Event) -> None:
        order.append("yield")
        flag.set()

    demand = validate_policy({"name": "demand"})
    with pytest.raises(runner_module.Cancelled):
        run_one(from_dict(data), data, demand, cancel, yield_to=cancelled_while_waiting)
    assert order == ["yield"]
