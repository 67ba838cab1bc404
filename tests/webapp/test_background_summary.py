"""Background seeds run without a recording (only their summary is kept), give exactly the
record a recorded run gives, and a background seed picked to be shown is recorded then."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from engine import from_dict
from engine.policies import validate_policy
from tests.helpers import QueuedRunner, small_scenario
from webapp import runner as runner_module
from webapp import shared_runs
from webapp.controller import Controller
from webapp.runner import compute_pair, compute_seed, run_key
from webapp.runs import RUN_CACHE
from webapp.seeds import pair_record, seed_list, with_seed
from webapp.state import SessionState, default_policies
from webapp.views.dashboard import Dashboard


def _scenarios(seed: int = 7401) -> list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """Two scenarios (seeds from `seed` on: runs no other test caches) with both policies:
    the small one (demand against predictive: two runs) and one on a SATA disk, with less
    memory and a phased VM, leap against predictive (neither is demand: a third run,
    demand's, gives coverage)."""
    small = small_scenario(seed=seed).to_dict()
    a, b = default_policies(small["policy"])
    other = small_scenario(
        seed=seed + 1,
        device={"preset": "sata-ssd"},
        host={"memory_mib": 3},
        vms=[
            {"name": "p", "memory_mib": 4, "workload": {"kind": "phased"}},
            {"name": "u", "memory_mib": 4, "workload": {"kind": "uniform", "pages": 800}},
        ],
    ).to_dict()
    return [
        (small, validate_policy(a), validate_policy(b)),
        (other, validate_policy({"name": "leap"}), validate_policy({"name": "predictive"})),
    ]


class _Counted:
    """Every Simulation the runner makes, with whether it records (runner.Simulation)."""

    def __init__(self) -> None:
        self.record: list[bool] = []

    def __call__(self, scenario: Any, policy: Any, record: bool = True, **kw: Any) -> Any:
        from engine.simulator import Simulation

        self.record.append(bool(record))
        return Simulation(scenario, policy, record=record, **kw)


@pytest.mark.parametrize("case", [0, 1])
def test_a_background_seed_records_nothing_and_gives_the_recorded_runs_record(
    monkeypatch: pytest.MonkeyPatch, case: int
) -> None:
    """A background seed's runs (compute_seed) are simulated without a recording, and its
    SeedRecord (both policies' figures and per-VM slowdowns) equals, exactly, the record of
    the same seed's recorded pair (what the seed shown gives), on two scenarios."""
    scenario, a, b = _scenarios()[case]
    seed = int(scenario["seed"]) + 1
    counted = _Counted()
    monkeypatch.setattr(runner_module, "Simulation", counted)
    monkeypatch.setattr(shared_runs, "find", lambda key: None)  # simulate both ways
    summary_only = compute_seed(scenario, a, b, seed, threading.Event())
    n_runs = len(counted.record)
    assert counted.record == [False] * n_runs and n_runs == (2 if case == 0 else 3)
    shown = compute_pair(with_seed(scenario, seed), a, b, threading.Event())
    assert counted.record[n_runs:] == [True] * n_runs
    assert shown.a.result.recording is not None and shown.n_frames > 1
    assert summary_only == pair_record(seed, shown)
    assert summary_only.a != summary_only.b  # the two policies differ: the check compares


def test_a_background_seed_takes_a_cached_recorded_run_of_its_inputs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A seed whose recorded runs are cached already (a visitor showed it) simulates nothing
    in the background: the recorded runs serve its record."""
    scenario, a, b = _scenarios(7421)[0]
    seed = int(scenario["seed"]) + 1
    shown = compute_pair(with_seed(scenario, seed), a, b, threading.Event())
    counted = _Counted()
    monkeypatch.setattr(runner_module, "Simulation", counted)
    try:
        assert compute_seed(scenario, a, b, seed, threading.Event()) == pair_record(seed, shown)
        assert counted.record == []
    finally:
        for policy in (a, b):
            RUN_CACHE.pop(run_key(with_seed(scenario, seed), policy))


def test_a_background_seed_picked_for_display_is_recorded_then(
    monkeypatch: pytest.MonkeyPatch, timers: Any
) -> None:
    """The seed picker offers seeds the background computed without frames; picking one
    computes its recorded runs then: the animation shows that seed's frames, and its record
    is the one the background gave."""
    scenario = _scenarios(7411)[0][0]
    counted = _Counted()
    monkeypatch.setattr(runner_module, "Simulation", counted)
    runner = QueuedRunner()
    state = SessionState(n_seeds=2)
    c = Controller(state, Dashboard(), runner, timers)
    pa, pb = default_policies(scenario["policy"])
    c._load(from_dict(scenario), pa, pb, frame=0, vm=0, file="")
    runner.run_all()
    first, other = seed_list(scenario["seed"], 2)
    c.painted(c.display.seq)
    runner.run_all()
    assert state.seeds_done == [first, other] and state.shown_seed == first
    assert counted.record == [True, True, False, False]  # the shown seed's pair, the other's
    background = c.seed_set.records[other]

    c.show_seed(other)
    runner.run_all()
    assert counted.record[4:] == [True, True]
    runs = state.runs
    assert runs is not None and state.shown_seed == other
    assert int(runs.scenario_dict["seed"]) == other and runs.n_frames > 1
    assert runs.a.result.recording is not None and runs.b.result.recording is not None
    assert pair_record(other, runs) == background
    assert c.seed_set.records[other] == background
    assert state.seeds_done == [first, other]
