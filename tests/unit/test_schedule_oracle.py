"""The schedule oracle: predictive's mechanism restoring each VM's true next-period page set."""

from __future__ import annotations

import numpy as np

from engine.policies import validate_policy
from engine.policies.schedule_oracle import ScheduleOracle
from engine.pool import SWAPPED
from engine.scenario import from_dict
from engine.simulator import Simulation
from tests.unit.test_policy_contract import small


def simulation(policy: str) -> Simulation:
    return Simulation(from_dict(small()), validate_policy({"name": policy}), record=False)


def test_the_next_period_set_holds_every_page_the_period_touches() -> None:
    """The set computed while a VM waits contains every page it touches in its next slice."""
    sim = simulation("schedule-oracle")
    policy: ScheduleOracle = sim.policy  # type: ignore[assignment]
    vc = sim.vcpus[0]
    checked = 0
    while sim.step() and checked < 3:
        if vc.index in sim.running:
            continue
        before = vc.pos
        expected = policy.next_period_pages(vc.vm)
        while vc.index not in sim.running and sim.step():  # wait for its dispatch
            pass
        while vc.index in sim.running and sim.step():  # and the end of its slice
            pass
        rel, _ = vc.stream.take(before, vc.pos - before)
        touched = np.unique(rel.astype(np.int64) + int(sim.pool.base[vc.vm]))
        assert touched.size > 0
        assert np.isin(touched, expected).all()
        checked += 1
    assert checked == 3


def test_restores_read_the_true_set_first() -> None:
    """A restore set starts with the swapped pages of the next period, and nothing in it is
    resident already."""
    sim = simulation("schedule-oracle")
    policy: ScheduleOracle = sim.policy  # type: ignore[assignment]
    seen = 0
    for _ in range(60):
        sim.step()
        for vm in range(sim.n_vms):
            if policy.running_vcpus[vm]:
                continue
            truth = policy.next_period_pages(vm)
            truth = truth[sim.pool.state[truth] == SWAPPED]
            got = policy.restore_set(vm, sim.now_ns)
            assert (sim.pool.state[got] == SWAPPED).all()
            head = got[: truth.size]
            assert set(head.tolist()) == set(truth[: got.size].tolist()) or got.size < truth.size
            seen += int(truth.size > 0)
    assert seen > 0


def test_knowing_the_set_faults_less_than_guessing_it() -> None:
    """Same mechanism, the true set in place of the history's guess: fewer major faults and
    more references executed than predictive on the same scenario."""
    runs = {}
    for name in ("predictive", "schedule-oracle"):
        sim = simulation(name)
        sim.run(until=sim.end_ns)
        runs[name] = sim.counters
    known, guessed = runs["schedule-oracle"], runs["predictive"]
    assert known.prefetch_issued.sum() > known.readahead_pages.sum()  # it did restore
    assert known.major_faults.sum() < guessed.major_faults.sum()
    assert known.references.sum() > guessed.references.sum()
