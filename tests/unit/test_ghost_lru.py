"""The shadow of demand paging: an LRU over page ids that counts the faults demand would take."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from engine import load_scenario, simulate
from engine.hotpath.shadow_lru import shadow_step
from engine.policies import validate_policy
from engine.policies.ghost_lru import NEVER_TOUCHED, GhostLru
from engine.scenario import from_dict
from engine.scenario.overrides import with_overrides
from engine.simulator import Simulation
from tests.unit.test_predictive import mini

ROOT = Path(__file__).resolve().parents[2]


def pages(*ids: int) -> np.ndarray:
    return np.array(ids, dtype=np.int64)


def test_a_first_touch_is_no_fault_and_a_page_within_reach_is_a_hit() -> None:
    """Three pages in a shadow of four frames: touched, then touched again, never fault."""
    ghost = GhostLru(np.array([0, 16]), fit_pages=4, cluster_pages=1)
    assert ghost.step(pages(0, 1, 2), pages(10, 11, 12), 20) == 0
    assert ghost.step(pages(0, 1, 2), pages(30, 31, 32), 40) == 0
    assert int(ghost.faults.sum()) == 0


def test_a_page_pushed_out_by_newer_ones_faults_once_per_readahead_block() -> None:
    """Pages 0 and 1 (one block of two) fall out of a 2-frame shadow when 4 and 6 are used;
    touched again they cost one fault, counted for their VM."""
    ghost = GhostLru(np.array([0, 8, 16]), fit_pages=2, cluster_pages=2)
    ghost.step(pages(0, 1), pages(10, 11), 20)
    ghost.step(pages(4, 6), pages(30, 31), 40)
    assert ghost.step(pages(0, 1), pages(50, 51), 60) == 1
    assert ghost.faults.tolist() == [1, 0]


def test_readahead_makes_the_rest_of_the_block_recent() -> None:
    """A miss on page 2 reads its block (2, 3): page 3, old, is then a hit, not a fault."""
    ghost = GhostLru(np.array([0, 8]), fit_pages=3, cluster_pages=2)
    ghost.step(pages(2, 3), pages(10, 10), 20)
    ghost.step(pages(4, 5, 6), pages(30, 31, 32), 40)
    assert ghost.step(pages(2), pages(50), 60) == 1
    assert ghost.step(pages(3), pages(70), 80) == 0


def test_at_2x_overcommit_its_faults_match_demand_pagings_own_over_a_run() -> None:
    """Fed the references of a run that is demand paging throughout (predictive never
    acting), 2,800 pages on 1,536 frames, the shadow's faults are within 10 % of the run's
    own major faults. (Near 1x an LRU's misses hinge on a few frames and on the order the
    VMs run in: there the shadow is off by tens of per cent, docs/results.md.)"""
    policy = validate_policy({"name": "predictive", "backoff_on": "benefit"})
    data = mini(host={"pcpus": 2, "memory_mib": 6, "swap_mib": 256})
    sim = Simulation(from_dict(data), policy, record=False)
    sim.policy._on = lambda switch: False  # type: ignore[attr-defined]  # no mechanism acts
    sim.run()
    own = int(sim.counters.major_faults.sum())
    shadow = int(sim.policy.shadow.faults.sum())  # type: ignore[attr-defined]
    assert own > 500
    assert abs(shadow - own) <= 0.1 * own, (shadow, own)


def test_horizon_is_always_the_fit_th_largest_key() -> None:
    """Over many random steps (keys growing, new pages touched), horizon_ns equals the fit-th
    largest key of the touched pages, or -1 while they all fit."""
    rng = np.random.default_rng(11)
    base = np.array([0, 3_000, 5_000, 9_000], dtype=np.int64)
    ghost = GhostLru(base, fit_pages=2_500, cluster_pages=8)
    now = 0
    for _ in range(300):
        now += int(rng.integers(1, 50_000))
        pages = np.unique(rng.integers(0, 9_000, int(rng.integers(1, 400))))
        used = now - rng.integers(0, 1_000, pages.size)
        ghost.step(pages, used, now)
        keys = np.sort(ghost.key_ns[ghost.key_ns > NEVER_TOUCHED])
        expected = NEVER_TOUCHED if keys.size <= ghost.fit else int(keys[keys.size - ghost.fit])
        assert ghost.horizon_ns() == expected


def _stepped_both_ways(steps: int, seed: int, interpreted: bool = False) -> int:
    """Random steps given to a shadow as `step_since` takes them (the touch times of the
    whole pool, the stamped pages flagged) and to a twin as `step` (the touched pages): the
    same faults, keys, counts and horizon at every step. Some stamps reach past their
    step's end: they count in the next step too. Returns the faults counted."""
    rng = np.random.default_rng(seed)
    base = np.array([0, 3_000, 5_000, 9_000], dtype=np.int64)
    compiled, numpy = (GhostLru(base, fit_pages=2_500, cluster_pages=8) for _ in range(2))
    touch = np.full(9_000, -1, dtype=np.int64)
    recent = np.zeros(9_000, dtype=np.uint8)
    now = since = 0
    total = 0
    for _ in range(steps):
        now += int(rng.integers(1, 50_000))
        pages = np.unique(rng.integers(0, 9_000, int(rng.integers(0, 400))))
        touch[pages] = now - rng.integers(-300, 1_000, pages.size)
        recent[pages] = 1
        touched = np.flatnonzero(touch >= since)
        if interpreted:
            faults, first = shadow_step.py_func(
                compiled.key_ns, touch, recent, since, now, compiled.fit, compiled.cluster,
                compiled.base, compiled.vm_of, compiled.faults, compiled._hint, compiled._work,
            )  # fmt: skip
            compiled.touched += first
        else:
            faults = compiled.step_since(touch, recent, since, now)
        assert faults == numpy.step(touched, touch[touched], now)
        assert np.array_equal(recent, touch >= now)  # (only stamps past the step's end)
        since = now
        assert np.array_equal(compiled.key_ns, numpy.key_ns)
        assert np.array_equal(compiled.faults, numpy.faults)
        assert compiled.touched == numpy.touched
        assert compiled.horizon_ns() == numpy.horizon_ns()
        total += faults
    return total


def test_the_compiled_step_is_the_numpy_step() -> None:
    """step_since (engine.hotpath.shadow_lru) and step agree step by step, through steps that
    touch nothing, first touches, misses and their blocks at each VM's end."""
    assert _stepped_both_ways(300, seed=5) > 100


def test_the_interpreted_step_is_the_numpy_step() -> None:
    """The kernel as plain Python (NUMBA_DISABLE_JIT's) counts the same."""
    assert _stepped_both_ways(60, seed=6, interpreted=True) > 10


def test_runs_step_the_shadow_as_numpy_would(monkeypatch: pytest.MonkeyPatch) -> None:
    """In real runs of predictive and the schedule oracle, every step of the shadow counted by
    the compiled call is what the numpy statement of the rule counts on a twin."""
    compiled = GhostLru.step_since
    twins: dict[int, GhostLru] = {}
    steps = []

    def both(
        self: GhostLru, touch_ns: np.ndarray, recent: np.ndarray, since_ns: int, now_ns: int
    ) -> int:
        twin = twins.setdefault(id(self), copy.deepcopy(self))
        touched = np.flatnonzero(touch_ns >= since_ns)
        expected = twin.step(touched, touch_ns[touched], now_ns)
        faults = compiled(self, touch_ns, recent, since_ns, now_ns)
        assert faults == expected, now_ns
        assert np.array_equal(self.key_ns, twin.key_ns), now_ns
        assert self.touched == twin.touched
        steps.append(faults)
        return faults

    monkeypatch.setattr(GhostLru, "step_since", both)
    scenario = load_scenario(ROOT / "scenarios" / "nvme_8vm_2x.toml")
    for policy in ("predictive", "schedule-oracle"):
        simulate(with_overrides(scenario, ["duration_ms=300"]), policy, record=False)
    assert len(twins) == 2
    assert len(steps) > 500 and sum(steps) > 1000, (len(steps), sum(steps))
