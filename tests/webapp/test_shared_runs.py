"""Runs shared by the whole server: pinned runs outlive the cache, one computation per key
however many sessions ask, and the warm-up computes exactly the runs a session looks up."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
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


class Flight:
    """A stand-in run of `key`, computed through compute_once in a thread of its own: it sets
    `started`, then steps (looking, as background work does between steps, whether a visitor's
    run of the key landed beside it) until `release` is set, then returns or raises `outcome`."""

    STEP_S = 0.01

    def __init__(self, key: str, outcome: Any, background: bool = False):
        self.key = key
        self.outcome = outcome
        self.background = background
        self.started = threading.Event()
        self.release = threading.Event()
        self.calls = 0  # computations begun
        self.finished = 0  # computations that reached their end
        self.results: list[Any] = []  # what each asker got
        self.errors: list[BaseException] = []  # what each asker raised
        self.answered = threading.Event()  # an asker got its result or error

    def compute(self) -> Any:
        self.calls += 1
        self.started.set()
        while not self.release.wait(self.STEP_S):
            if shared_runs.landed_beside(self.key):
                raise shared_runs.LandedBeside
        self.finished += 1
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome

    def ask(self) -> None:
        try:
            got = shared_runs.compute_once(self.key, self.compute, background=self.background)
        except BaseException as exc:
            self.errors.append(exc)
        else:
            self.results.append(got)
        self.answered.set()


@contextlib.contextmanager
def computing(key: str, outcome: Any = "the run", background: bool = False) -> Iterator[Flight]:
    """A Flight of `key` under way in its own thread (it has started computing); on leaving,
    it is released and its thread joined."""
    flight = Flight(key, outcome, background)
    thread = threading.Thread(target=flight.ask)
    thread.start()
    try:
        assert flight.started.wait(30)
        yield flight
    finally:
        flight.release.set()
        thread.join(30)


def in_thread(fn: Callable[[], Any]) -> threading.Thread:
    thread = threading.Thread(target=fn)
    thread.start()
    return thread


def test_many_askers_of_one_key_compute_it_once(key: str) -> None:
    """Eight threads asking for the same run at once all get the one result, computed once;
    a later asker finds it in the cache."""
    value: Any = ["the run"]
    with computing(key, value) as flight:
        assert shared_runs.computing(key)
        others = [in_thread(flight.ask) for _ in range(7)]
        time.sleep(0.3)  # the others are waiting on the flight (a longer wait changes nothing)
        flight.release.set()
        for t in others:
            t.join(30)
    assert flight.calls == 1
    assert len(flight.results) == 8 and all(r is value for r in flight.results)
    assert not shared_runs.computing(key)
    assert shared_runs.compute_once(key, lambda: ["another"]) is value


def test_a_waiter_computes_itself_when_the_computation_it_awaits_fails(key: str) -> None:
    """When the run being awaited is cancelled (its session moved on), the waiting session
    computes the run itself rather than failing."""
    got: list[Any] = []
    with computing(key, Cancelled()) as flight:
        waiter = in_thread(
            lambda: got.append(shared_runs.compute_once(key, lambda: "computed by the waiter"))
        )
        time.sleep(0.2)
        flight.release.set()
        waiter.join(30)
    assert len(flight.errors) == 1 and isinstance(flight.errors[0], Cancelled)
    assert got == ["computed by the waiter"]


def test_a_cancelled_waiter_stops_waiting(key: str) -> None:
    """A session cancelled while it waits for another's run gives up with Cancelled."""

    def cancelled() -> bool:
        raise Cancelled

    with computing(key, "late"), pytest.raises(Cancelled):
        shared_runs.compute_once(key, lambda: "never", cancelled)


def test_a_visitor_never_waits_for_a_background_flight(key: str) -> None:
    """A run that background work computes (and may pause) is computed again by a visitor's
    run asking for the same key, at once, instead of waiting for the pause."""
    with computing(key, "from the background", background=True):
        assert shared_runs.compute_once(key, lambda: "by the visitor") == "by the visitor"


def test_a_background_flight_stops_and_takes_the_visitors_run(key: str) -> None:
    """When a visitor's run lands beside a background flight of the same key, the background
    computation stops by itself (never reaching its end) and hands back the visitor's run;
    no flight of the key is left behind."""
    visitors: Any = ["by the visitor"]
    with computing(key, "from the background", background=True) as flight:
        assert shared_runs.compute_once(key, lambda: visitors) is visitors
        assert flight.answered.wait(30), "the background flight went on computing"
    assert flight.results == [visitors] and flight.errors == []
    assert flight.calls == 1 and flight.finished == 0
    assert not shared_runs.computing(key)


def test_a_paused_background_seed_ends_with_the_visitors_runs_of_its_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A background seed is paused for a waiting visitor, who shows that very seed (computing
    its runs beside); when the pause ends the seed's run stops without another step and the
    seed takes the visitor's runs: each run is simulated to its end once, not twice, and the
    seed's record is the one the visitor's runs give."""
    from engine.policies import validate_policy
    from engine.simulator import Simulation
    from tests.helpers import small_scenario
    from webapp import priority
    from webapp import runner as runner_module
    from webapp.seeds import pair_record, with_seed

    begun: list[Any] = []
    ended: list[Any] = []

    class Counted(Simulation):
        def run(self, *args: Any, **kwargs: Any) -> Any:
            begun.append(self)
            result = super().run(*args, **kwargs)
            ended.append(result)
            return result

    monkeypatch.setattr(runner_module, "Simulation", Counted)
    data = small_scenario(seed=7351).to_dict()  # runs no other test caches
    seed = 7352
    a = validate_policy({"name": "demand"})
    b = validate_policy({"name": "demand", "victims": "clock"})
    keys = [run_key(with_seed(data, seed), p) for p in (a, b)]
    steps_before = 3  # the visitor arrives after the seed's third step
    pauses: list[int] = []
    holds: list[int] = []
    visitor_waits = threading.Event()
    real_pause = runner_module.background_yield

    def pause(cancel: threading.Event) -> None:
        pauses.append(len(pauses))
        if len(pauses) == 1 + steps_before:  # the first pause comes before any step
            holds.append(priority.hold(600.0))
            visitor_waits.set()
        real_pause(cancel)

    monkeypatch.setattr(runner_module, "background_yield", pause)
    out: list[Any] = []
    thread = in_thread(
        lambda: out.append(runner_module.compute_seed(data, a, b, seed, threading.Event()))
    )
    try:
        assert visitor_waits.wait(60)
        shown = runner_module.compute_pair(with_seed(data, seed), a, b, threading.Event())
        assert len(ended) == 2  # the visitor's A and B
    finally:
        priority.release(holds[0] if holds else None)
        thread.join(60)
        for k in keys:
            RUN_CACHE.pop(k)
    assert out == [pair_record(seed, shown)]
    assert len(begun) == 3 and len(ended) == 2, "a run of the seed was simulated twice"
    assert len(pauses) == 1 + steps_before, "the seed's run stepped on after the visitor's"


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
