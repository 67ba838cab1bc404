"""Runs shared by the whole server: pinned runs outlive the cache, one computation per key
however many sessions ask, and the warm-up computes exactly the runs a session looks up."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest

from webapp import shared_runs, warmup
from webapp.runner import Cancelled, run_key
from webapp.runs import RUN_CACHE


def fresh_key() -> str:
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture
def key():
    """A key no other test uses; its pinned and cached entries are removed afterwards."""
    k = fresh_key()
    yield k
    shared_runs.PINNED.pop(k, None)
    RUN_CACHE.pop(k)


def test_a_pinned_run_outlives_the_cache(key: str) -> None:
    """A pinned run is found after the bounded cache let everything go."""
    run: Any = object()
    shared_runs.pin(key, run)
    RUN_CACHE.clear()
    assert shared_runs.find(key) is run


def test_many_askers_of_one_key_compute_it_once(key: str) -> None:
    """Eight threads asking for the same run at once all get the one result, computed once;
    a later asker finds it in the cache."""
    calls = 0
    started = threading.Event()
    release = threading.Event()
    results: list[Any] = []
    value: Any = ["the run"]

    def compute() -> Any:
        nonlocal calls
        calls += 1
        started.set()
        release.wait(30)
        return value

    def ask() -> None:
        results.append(shared_runs.compute_once(key, compute))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    threads[0].start()
    assert started.wait(30)
    assert shared_runs.computing(key)
    for t in threads[1:]:
        t.start()
    time.sleep(0.3)  # the others are waiting on the flight (a longer wait changes nothing)
    release.set()
    for t in threads:
        t.join(30)
    assert calls == 1
    assert len(results) == 8 and all(r is value for r in results)
    assert not shared_runs.computing(key)
    assert shared_runs.compute_once(key, lambda: ["another"]) is value


def test_a_waiter_computes_itself_when_the_computation_it_awaits_fails(key: str) -> None:
    """When the run being awaited is cancelled (its session moved on), the waiting session
    computes the run itself rather than failing."""
    started = threading.Event()
    release = threading.Event()

    def cancelled_run() -> Any:
        started.set()
        release.wait(30)
        raise Cancelled

    owner_error: list[BaseException] = []

    def owner() -> None:
        try:
            shared_runs.compute_once(key, cancelled_run)
        except Cancelled as exc:
            owner_error.append(exc)

    t = threading.Thread(target=owner)
    t.start()
    assert started.wait(30)
    got: list[Any] = []
    waiter = threading.Thread(
        target=lambda: got.append(shared_runs.compute_once(key, lambda: "computed by the waiter"))
    )
    waiter.start()
    time.sleep(0.2)
    release.set()
    t.join(30)
    waiter.join(30)
    assert len(owner_error) == 1
    assert got == ["computed by the waiter"]


def test_a_cancelled_waiter_stops_waiting(key: str) -> None:
    """A session cancelled while it waits for another's run gives up with Cancelled."""
    release = threading.Event()
    started = threading.Event()

    def slow() -> Any:
        started.set()
        release.wait(30)
        return "late"

    t = threading.Thread(target=lambda: shared_runs.compute_once(key, slow))
    t.start()
    assert started.wait(30)
    cancel = threading.Event()
    cancel.set()

    def cancelled() -> bool:
        if cancel.is_set():
            raise Cancelled
        return False

    with pytest.raises(Cancelled):
        shared_runs.compute_once(key, lambda: "never", cancelled)
    release.set()
    t.join(30)


def test_a_visitor_never_waits_for_a_background_flight(key: str) -> None:
    """A run that background work computes (and may pause) is computed again by a visitor's
    run asking for the same key, at once, instead of waiting for the pause."""
    release = threading.Event()
    started = threading.Event()

    def paused() -> Any:
        started.set()
        release.wait(60)
        return "from the background"

    t = threading.Thread(target=lambda: shared_runs.compute_once(key, paused, background=True))
    t.start()
    try:
        assert started.wait(30)
        assert shared_runs.compute_once(key, lambda: "by the visitor") == "by the visitor"
    finally:
        release.set()
        t.join(30)


def test_the_warmup_computes_the_keys_a_new_session_asks_for() -> None:
    """For every shipped scenario within the web limits, the runs the warm-up pins are keyed
    exactly as a session opening that scenario looks them up (else nobody would find them)."""
    from tests.security import new_session
    from webapp.state import scenario_files

    session = new_session()
    for name in scenario_files():
        try:
            _, scenario_dict, policies = warmup.needed_runs(name)
        except Exception as exc:  # over the web limits: the session is refused it too
            session.controller.load_file(name, run=False)
            with pytest.raises(type(exc)):
                session.controller.inputs()
            continue
        session.controller.load_file(name, run=False)
        s, a, b = session.controller.inputs()
        asked = [a, b] if "demand" in (a["name"], b["name"]) else [a, b, {"name": "demand"}]
        from engine.policies import validate_policy

        assert [run_key(scenario_dict, p) for p in policies] == [
            run_key(s, validate_policy(p)) for p in asked
        ], name


def test_warming_goes_on_past_a_scenario_that_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """One scenario that cannot be warmed is logged and skipped: the next is still warmed,
    and the warm-up says it has finished."""
    warmed: list[str] = []

    def fake(name: str) -> None:
        if name == "broken":
            raise ValueError("no such scenario")
        warmed.append(name)

    monkeypatch.setattr(warmup, "warm_scenario", fake)
    monkeypatch.setattr(warmup, "finished", threading.Event())
    warmup.warm(["broken", "quickstart"])
    assert warmed == ["quickstart"]
    assert warmup.finished.is_set()


def test_the_warm_scope_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """VMSWAP_WARM picks the default scenario (unset), every shipped one, or none; a typo
    means the default, not a server that fails to start."""
    from webapp.state import default_scenario_file, scenario_files

    monkeypatch.delenv(warmup.WARM_ENV, raising=False)
    assert warmup.scenarios_for(warmup.scope_from_env()) == [default_scenario_file()]
    monkeypatch.setenv(warmup.WARM_ENV, "ALL")
    names = warmup.scenarios_for(warmup.scope_from_env())
    assert names[0] == default_scenario_file() and sorted(names) == sorted(scenario_files())
    monkeypatch.setenv(warmup.WARM_ENV, "none")
    assert warmup.scenarios_for(warmup.scope_from_env()) == []
    monkeypatch.setenv(warmup.WARM_ENV, "everything")
    assert warmup.scope_from_env() == "default"


def test_a_session_is_served_at_once_from_pinned_runs() -> None:
    """Runs pinned by the server (as the warm-up pins them) serve a new session's page with
    its first frame, submitting no simulation, even after the shared cache let them go."""
    from engine.policies import validate_policy
    from tests.security import new_session, small_link
    from webapp.runner import compute_pair

    link = small_link(seed=4242)
    first = new_session({"run": [link.encode()]})
    scenario, a, b = first.controller.inputs()
    compute_pair(scenario, a, b, threading.Event())
    needed = [a, b] if "demand" in (a["name"], b["name"]) else [a, b, {"name": "demand"}]
    keys = [run_key(scenario, validate_policy(p)) for p in needed]
    try:
        for k in keys:
            shared_runs.pin(k, RUN_CACHE.pop(k))
        assert all(k not in RUN_CACHE for k in keys)
        second = new_session({"run": [link.encode()]})
        assert second.runner.submitted == []
        assert second.state.runs is not None and second.state.scenario.seed == 4242
        assert second.dashboard.seq > 0
    finally:
        for k in keys:
            shared_runs.PINNED.pop(k, None)
