"""Real overcommit has one definition (engine.overcommit): the sweeps' touched pages are it."""

from __future__ import annotations

import numpy as np
import pytest

import engine.simulator
from engine.overcommit import overcommit, touched_pages
from engine.pool import UNTOUCHED
from engine.scenario import from_dict
from engine.simulator import Simulation, baseline_references
from engine.sweep import run_one
from tests.unit.test_policy_contract import small


def test_touched_pages_are_counted_with_unlimited_memory() -> None:
    """The count is the distinct pages an unlimited-memory run touches; overcommit divides it
    by the host's frames, and on this overcommitted host a paging run touches fewer."""
    scenario = from_dict(small())
    free = Simulation(scenario, {"name": "demand"}, record=False, unlimited_memory=True)
    free.run()
    expected = int(np.count_nonzero(free.pool.state != UNTOUCHED))
    assert touched_pages(scenario) == expected
    assert overcommit(scenario) == expected / scenario.host_frames
    paging = Simulation(scenario, {"name": "demand"}, record=False)
    paging.run(with_baseline=False)
    assert int(np.count_nonzero(paging.pool.state != UNTOUCHED)) < expected


def test_a_sweep_run_reports_the_same_touched_pages_under_every_policy() -> None:
    """The sweep task's touched_pages is engine.overcommit's, whatever the policy, so the
    envelope's axis and the scenario descriptions state the same figure."""
    data = small()
    expected = touched_pages(from_dict(data))
    for policy in ("demand", "predictive"):
        summary = run_one({**data, "policy": {"name": policy}})["summary"]
        assert summary["touched_pages"] == expected
        assert summary["host_frames"] == from_dict(data).host_frames


def test_the_slowdown_baseline_run_also_counts_the_touched_pages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One unlimited-memory run gives both the slowdown baseline and the touched pages: once
    a scenario's baseline is known, its overcommit runs no simulation of its own."""
    scenario = from_dict({**small(), "seed": 90_210})  # a key no other test has cached
    free = Simulation(scenario, {"name": "demand"}, record=False, unlimited_memory=True)
    free.run()
    expected = int(np.count_nonzero(free.pool.state != UNTOUCHED))
    assert np.array_equal(baseline_references(scenario), free.counters.references)

    def no_second_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("the unlimited-memory run was made again")

    monkeypatch.setattr(engine.simulator, "Simulation", no_second_run)
    assert touched_pages(scenario) == expected
