"""Real overcommit has one definition (engine.overcommit): the sweeps' touched pages are it."""

from __future__ import annotations

import numpy as np

from engine.overcommit import overcommit, touched_pages
from engine.pool import UNTOUCHED
from engine.scenario import from_dict
from engine.simulator import Simulation
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
