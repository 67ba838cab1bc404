"""Runs that are finished already are shown at once, never queued behind the session's
background work; a cancelled run gives its worker back before its expensive first step."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from engine import from_dict
from engine.policies import validate_policy
from webapp import runner as runner_module
from webapp.controller import DEBOUNCE_S, Controller, SyncRunner, all_found
from webapp.runner import Cancelled, run_one
from webapp.seeds import with_seed
from webapp.state import SessionState, default_policies
from webapp.views.dashboard import Dashboard


class NoRunner:
    """A session's worker busy with something else: it takes jobs and never runs them."""

    def __init__(self) -> None:
        self.submitted = 0

    def submit(self, fn: Any, done: Any) -> None:
        self.submitted += 1


def test_a_pair_already_computed_is_shown_without_the_sessions_worker(app, timers, small_dict):
    """With every run of the pair finished (here by another session), the runs are shown at
    once through the found runner while the session's own worker stays busy; an edit whose
    runs nobody has computed goes to the worker."""
    state = SessionState()
    busy = NoRunner()
    controller = Controller(state, Dashboard(), busy, timers, found_runner=SyncRunner())
    a, b = default_policies(small_dict["policy"])
    controller._load(from_dict(small_dict), a, b, frame=0, vm=0, file="")
    assert state.runs is not None and not state.busy
    assert busy.submitted == 0
    state.scenario.seed = state.scenario.seed + 1000  # a seed no test has run
    timers.advance(DEBOUNCE_S + 0.01)
    assert busy.submitted == 1 and state.busy
    assert state.runs.scenario_dict["seed"] == small_dict["seed"]


def test_all_found_says_whether_every_run_of_the_pair_is_finished(app, small_dict):
    """all_found: true for the pair the app fixture ran, false for one of its runs missing."""
    a, b = (validate_policy(p) for p in default_policies(small_dict["policy"]))
    assert all_found(small_dict, a, b)
    assert not all_found(with_seed(small_dict, small_dict["seed"] + 1001), a, b)


def test_a_run_cancelled_before_it_starts_computes_no_baseline(monkeypatch, small_dict):
    """A cancelled run (a background seed when the visitor switched scenario) raises
    Cancelled without starting the unlimited-memory baseline, which cannot be stopped."""
    calls: list[Any] = []
    monkeypatch.setattr(runner_module, "baseline_references", lambda s: calls.append(s))
    data = with_seed(small_dict, small_dict["seed"] + 1002)
    cancel = threading.Event()
    cancel.set()
    policy = validate_policy({"name": "demand"})
    with pytest.raises(Cancelled):
        run_one(from_dict(data), data, policy, cancel)
    assert calls == []


def test_picking_a_scenario_changes_everything_inside_one_batch(app, timers):
    """Picking a shipped scenario loads it, rebuilds and shows its runs (found: at once)
    inside one `batch()`, so a served page gets one message, not one per change."""
    import contextlib

    state = SessionState()
    depth = 0
    seen: list[tuple[int, Any]] = []

    @contextlib.contextmanager
    def batch() -> Any:
        nonlocal depth
        depth += 1
        try:
            yield
        finally:
            depth -= 1

    controller = Controller(
        state, Dashboard(), NoRunner(), timers, found_runner=SyncRunner(), batch=batch
    )
    state.param.watch(lambda e: seen.append((depth, e.new)), "runs")
    controller.load_file("quickstart", run=False)
    controller.runner = SyncRunner()  # computes quickstart once (then it is found)
    controller.request_run(delay=0.0)
    controller.runner = NoRunner()
    controller.load_file("density", run=False)
    seen.clear()
    state.scenario_file = "quickstart"
    assert [d for d, runs in seen if runs is not None] == [1]
    assert state.runs is not None and state.runs.scenario_dict["name"] == "quickstart"
