"""The schedule oracle: predictive's mechanism restoring each VM's true next-period page set,
with victims taken first from the pages no VM's next period needs."""

from __future__ import annotations

import numpy as np

from engine.policies import validate_policy
from engine.policies import victims as pick
from engine.policies.predictive import NEVER
from engine.policies.schedule_oracle import ScheduleOracle
from engine.policies.schedule_victims import PROTECTED
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


def evictable(sim: Simulation) -> np.ndarray:
    return pick.candidates(sim.pool)


def test_victims_come_first_from_pages_no_coming_period_needs() -> None:
    """Every evictable page is ranked once: first the pages in no VM's next-period set, their
    VM's next planned start farthest first; then the set pages, the set needed farthest first
    (a running VM's, needed now, last)."""
    sim = simulation("schedule-oracle")
    policy: ScheduleOracle = sim.policy  # type: ignore[assignment]
    checked = 0
    while sim.step() and checked < 10:
        pages = evictable(sim)
        if pages.size == 0:
            continue
        now = sim.now_ns
        nxt = policy.next_starts(now)
        needed = np.where(policy.running_vcpus > 0, PROTECTED, nxt)
        in_set = np.zeros(sim.pool.n_pages, dtype=bool)
        for vm in range(sim.n_vms):
            in_set[policy.next_period_pages(vm)] = True
        ranked = policy.ranked_victims(int(pages.size), now)
        assert np.array_equal(np.sort(ranked), pages)
        outside = ~in_set[ranked]
        n_out = int(np.count_nonzero(outside))
        assert outside[:n_out].all() and not outside[n_out:].any()
        owner = sim.pool.vm_of[ranked].astype(np.int64)
        assert (np.diff(nxt[owner[:n_out]]) <= 0).all()
        assert (np.diff(needed[owner[n_out:]]) <= 0).all()
        checked += int(0 < n_out < ranked.size)
    assert checked == 10


def test_a_restore_never_takes_a_set_page_needed_before_its_start() -> None:
    """Victims for a restore that starts at T spare every set page needed at or before T; a
    page in no next-period set is needed by no coming period, so it may go."""
    sim = simulation("schedule-oracle")
    policy: ScheduleOracle = sim.policy  # type: ignore[assignment]
    checked = 0
    while sim.step() and checked < 10:
        pages = evictable(sim)
        now = sim.now_ns
        nxt = policy.next_starts(now)
        idle = np.flatnonzero((policy.running_vcpus == 0) & (nxt < NEVER))
        if pages.size == 0 or idle.size == 0:
            continue
        start = int(nxt[idle].min())  # the first idle VM's planned start
        needed = np.where(policy.running_vcpus > 0, PROTECTED, nxt)
        chosen = policy.ranked_victims(int(pages.size), now, above=start)
        owner = sim.pool.vm_of[chosen].astype(np.int64)
        in_set = np.zeros(sim.pool.n_pages, dtype=bool)
        for vm in range(sim.n_vms):
            in_set[policy.next_period_pages(vm)] = True
        assert (needed[owner[in_set[chosen]]] > start).all()
        spared = np.setdiff1d(pages, chosen)
        assert in_set[spared].all()  # only set pages are ever spared
        checked += int(spared.size > 0)
    assert checked == 10
