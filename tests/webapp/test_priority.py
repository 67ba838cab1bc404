"""Background work gives way to a waiting visitor: it pauses between simulation steps while a
hold is on, and resumes when the hold is released, lapses, or the work is cancelled. While
sessions play it trickles (one step at a time, spaced), setting its compute slot aside while it
waits, and goes on at full speed when playback stops, with the same results."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from engine import from_dict
from engine.policies import validate_policy
from webapp import priority, shared_runs
from webapp.governor import GOVERNOR
from webapp.runner import background_yield, compute_seed, run_one
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
    """Each test starts and ends with no hold on, nobody playing and a free lane."""
    priority._holds.clear()
    priority._lane = priority._Lane()
    yield
    priority._holds.clear()
    priority._lane = priority._Lane()


class Playing:
    """A stand-in for a playing session, as the frame governor counts it."""

    def __enter__(self) -> Playing:
        GOVERNOR.playing(self)
        return self

    def __exit__(self, *exc: object) -> None:
        GOVERNOR.stopped(self)


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


def test_while_a_session_plays_background_waits_its_turn_and_resumes_when_play_stops():
    """With a session playing and the lane's next step not due, background work waits; it
    goes on once playback stops (statistics are never stopped for good)."""
    with Playing():
        priority._lane.next_at = time.monotonic() + LONG_S  # a long step just ended
        thread, returned = paused_wait(threading.Event())
        assert not returned.wait(0.3)
    assert returned.wait(30)
    thread.join(30)


def test_while_sessions_play_background_steps_one_at_a_time():
    """While a session plays, one background step holds the lane; a second thread's step
    waits for it (here: until play stops)."""
    with Playing():
        priority.yield_to_foreground(threading.Event())  # takes the lane
        assert priority._lane.owner == threading.get_ident()
        _, second = paused_wait(threading.Event())
        assert not second.wait(0.3)
    assert second.wait(30)


def test_the_next_background_step_waits_in_proportion_to_the_last():
    """A step of t seconds in the lane makes the next wait t * (1 / PLAY_SHARE - 1): all
    background steps together take about PLAY_SHARE of the time while sessions play."""
    lane = priority._Lane()
    lane.take(7, 100.0)
    lane.finish(8, 100.1)  # not the owner: nothing changes
    assert lane.owner == 7 and lane.next_at == 0.0
    lane.finish(7, 100.1)
    assert lane.owner is None
    assert lane.next_at == pytest.approx(100.1 + 0.1 * (1 / priority.PLAY_SHARE - 1))
    lane.take(9, 200.0)
    assert not lane.free(200.0 + priority.LANE_LAPSE_S / 2)
    assert lane.free(200.0 + priority.LANE_LAPSE_S * 2), "a step that never came back lapses"


def test_a_waiting_background_run_sets_its_compute_slot_aside():
    """A background run waiting for its turn frees its compute slot, so every slot is there
    for a visitor's own run meanwhile; it takes its slot back before going on."""
    from webapp import runner as runner_module

    slots = runner_module._compute_slots
    entered, returned = threading.Event(), threading.Event()

    def background() -> None:
        with slots:
            runner_module._in_slot.held = True
            entered.set()
            background_yield(threading.Event())
            returned.set()
            runner_module._in_slot.held = False

    with Playing():
        priority._lane.next_at = time.monotonic() + LONG_S
        thread = threading.Thread(target=background, daemon=True)
        thread.start()
        assert entered.wait(30)
        taken = [slots.acquire(timeout=30) for _ in range(runner_module.COMPUTE_SLOTS)]
        assert all(taken), "the waiting background run kept its slot"
        assert not returned.is_set()
        for _ in taken:
            slots.release()
    assert returned.wait(30)
    thread.join(30)


def test_seeds_computed_while_sessions_play_finish_after_and_match(
    monkeypatch, small_dict: dict[str, Any]
):
    """A seed computed in the background while a session plays is held back, finishes once
    playback stops, and its record equals the same seed computed with nobody playing."""
    monkeypatch.setattr(shared_runs, "find", lambda key: None)  # compute both times
    a = validate_policy({"name": "demand"})
    b = validate_policy({"name": "demand", "victims": "clock"})
    seed = int(small_dict["seed"]) + 2003
    alone = compute_seed(small_dict, a, b, seed, threading.Event())
    out: list[Any] = []
    with Playing():
        priority._lane.next_at = time.monotonic() + LONG_S
        thread = threading.Thread(
            target=lambda: out.append(compute_seed(small_dict, a, b, seed, threading.Event())),
            daemon=True,
        )
        thread.start()
        thread.join(0.5)
        assert out == [], "the seed ran on while a session played"
    thread.join(120)
    assert len(out) == 1
    assert out[0] == alone
