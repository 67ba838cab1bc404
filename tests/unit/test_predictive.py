"""Scheduler-informed predictive paging: each mechanism does what its switch says."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from engine.errors import ScenarioError
from engine.metrics import COUNTERS
from engine.policies import validate_policy
from engine.policies.predictive import MECHANISMS, NEVER, PROTECTED, PredictivePaging
from engine.pool import CLEAN, PREFETCHED, READING, SWAPPED
from engine.scenario import from_dict, with_overrides
from engine.simulator import Simulation, baseline_references
from tests.unit.test_policy_contract import small


def mini(**over: Any) -> dict[str, Any]:
    """Four VMs take turns on two pCPUs; memory holds the two that run and a little more."""
    vm = {
        "memory_mib": 4,
        "workload": {"kind": "zipf", "pages": 700, "zipf_alpha": 0.7, "cpu_ns_per_ref": 500},
    }
    data: dict[str, Any] = {
        "name": "mini",
        "seed": 4,
        "duration_ms": 150.0,
        "host": {"pcpus": 2, "memory_mib": 10, "swap_mib": 256},
        "device": {"preset": "nvme-ssd"},
        "scheduler": {"kind": "rr", "slice_ms": 5.0},
        "recording": {"enabled": False},
        "vms": [{"name": n, **vm} for n in "abcd"],
    }
    data.update(over)
    return data


def run(data: dict[str, Any], policy: dict[str, Any], steps: int | None = None) -> Simulation:
    sim = Simulation(from_dict(data), validate_policy(policy), record=False)
    sim.run(until=sim.end_ns if steps is None else steps * sim.step_ns)
    return sim


def fingerprint(sim: Simulation) -> tuple[Any, ...]:
    return (
        sim.counters.snapshot().tolist(),
        sim.pool.state.tobytes(),
        [(s.pcpu, s.vcpu, s.start_ns, s.end_ns) for s in sim.slices],
    )


@pytest.mark.parametrize("victims", ["lru", "clock", "fifo", "random"])
@pytest.mark.parametrize("readahead", ["off", "fixed", "adaptive"])
def test_horizon_zero_is_demand_paging_exactly(victims: str, readahead: str) -> None:
    """With no scheduling information, every counter, page and slice equals demand paging."""
    data = mini(duration_ms=80.0)
    switches = {"victims": victims, "readahead": readahead}
    demand = run(data, {"name": "demand", **switches})
    blind = run(data, {"name": "predictive", "horizon_ms": 0.0, **switches})
    assert fingerprint(blind) == fingerprint(demand)
    assert blind.policy.horizon_ns == 0


def test_a_device_with_no_spare_lane_leaves_demand_paging() -> None:
    """On a disk every lane serves demand reads: restores would delay faults, so it stands down."""
    data = mini(duration_ms=80.0, device={"preset": "hdd-7200"})
    assert fingerprint(run(data, {"name": "predictive"})) == fingerprint(
        run(data, {"name": "demand"})
    )


def test_the_plan_horizon_reaches_the_engine() -> None:
    """The simulator plans at least as far ahead as the policy looks."""
    sim = run(mini(), {"name": "predictive", "horizon_ms": 400.0}, steps=0)
    assert sim.policy.horizon_ns == 400_000_000
    assert sim.plan_horizon_ns >= 400_000_000


def test_restores_land_before_the_slice_and_cut_faults_and_stall() -> None:
    """On a scenario whose plan is right, restores are used, on time, and beat demand paging."""
    data = mini()
    base = baseline_references(from_dict(data))
    demand = run(data, {"name": "demand"}).finish(base).summary
    sim = run(data, {"name": "predictive"})
    pred = sim.finish(base).summary
    stats = sim.policy.stats
    assert stats["restores"] > 10
    assert pred["prefetch_accuracy"] > 0.8
    assert pred["prefetch_late"] < 0.02 * pred["prefetch_used"]
    assert pred["major_faults"] < 0.5 * demand["major_faults"]
    assert pred["stall_ns"] < 0.5 * demand["stall_ns"]
    assert pred["slowdown"] < demand["slowdown"]


def test_a_restore_is_in_flight_before_its_vm_runs() -> None:
    """Some step sees restore reads of a VM that is not running but is planned to run soon."""
    sim = run(mini(), {"name": "predictive"}, steps=0)
    seen = False
    while sim.step() and not seen:
        pol = sim.policy
        nxt = pol.next_starts(sim.now_ns)
        for vm in range(sim.n_vms):
            lo, hi = sim.pool.vm_range(vm)
            reading = np.count_nonzero(sim.pool.state[lo:hi] == READING)
            if reading and pol.running_vcpus[vm] == 0 and nxt[vm] < NEVER:
                assert nxt[vm] - sim.now_ns <= 20_000_000
                seen = True
    assert seen


def test_lead_time_comes_from_the_device() -> None:
    """More pages than the lanes read at once, a queue, or a slower device each make the lead
    time longer."""
    nvme = run(mini(), {"name": "predictive"}, steps=1).policy
    sata = run(mini(device={"preset": "sata-ssd"}), {"name": "predictive"}, steps=1).policy
    t = nvme.machine.now_ns
    assert nvme.lead_ns(64, t) <= nvme.lead_ns(640, t) < nvme.lead_ns(6400, t)
    assert nvme.lead_ns(6400, t) > 5 * nvme.lead_ns(64, t)
    assert sata.lead_ns(640, t) > nvme.lead_ns(640, t)
    before = nvme.lead_ns(640, t)
    nvme.machine.device.busy_until[nvme.prefetch_lanes] = t + 5_000_000  # every lane busy 5 ms
    nvme._backlog_key = ()  # the backlog is cached until the device's queues change
    assert nvme.lead_ns(640, t) >= before + 5_000_000
    for within in (1_000_000, 3_000_000, 10_000_000):
        n = sata.deliverable(within, t)
        assert sata.lead_ns(n, t) <= within < sata.lead_ns(n + max(1, n // 32) + 1, t)


def test_a_restore_cancelled_leaves_the_lead_time_at_once() -> None:
    """The backlog behind a lead time is kept until the device's queues change, and a queued
    restore cancelled is such a change (it stays queued, marked): at the same instant the
    lead time is what it is computed afresh, shorter by the cancelled pages."""
    sim = run(mini(), {"name": "predictive"}, steps=60)
    pol, m = sim.policy, sim.machine
    t = m.now_ns
    vm = next(
        v
        for v in range(sim.n_vms)
        if np.any(sim.pool.state[slice(*sim.pool.vm_range(v))] == SWAPPED)
    )
    lo, hi = sim.pool.vm_range(vm)
    swapped = lo + np.flatnonzero(sim.pool.state[lo:hi] == SWAPPED)[:64]
    ops = m.prefetch(vm, swapped, t, keep_free=0)
    assert ops and all(op.start_ns < 0 for op in ops), "the restore should be queued"
    queued = pol.lead_ns(640, t)
    assert m.cancel_ops(ops, t) > 0
    after = pol.lead_ns(640, t)
    pol._backlog_key = ()
    assert after == pol.lead_ns(640, t)
    assert after < queued


def test_victims_come_from_the_vm_planned_farthest_and_running_vms_last() -> None:
    """Pages of the idle VM whose next start is farthest go first; a running VM's working set
    goes only when nothing else is left; within a VM, least recently used first."""
    sim = run(mini(), {"name": "predictive"}, steps=60)
    pol = sim.policy
    now = sim.now_ns
    nxt = pol.next_starts(now)
    state, owner = sim.pool.state, sim.pool.vm_of
    evictable = np.flatnonzero((state >= 1) & (state <= 3))
    # A page's key: its VM's next planned start; a running VM's page still in its current
    # working set: PROTECTED (its other pages wait for its next slice).
    key = nxt[owner].copy()
    for vm in range(sim.n_vms):
        if pol.running_vcpus[vm] > 0:
            lo, hi = sim.pool.vm_range(vm)
            t = pol.touch_vns[lo:hi]
            stale = t < pol.vm_clock(vm, now) - pol.ws_vns
            ran = now - int(pol.period_start[vm]) >= int(pol.run_until[vm]) - now
            cold = stale | ((t <= pol.vm_time[vm]) & ran)
            key[lo:hi] = np.where(cold, nxt[vm], PROTECTED)
    chosen = pol.ranked_victims(20, now)
    assert chosen.size == 20
    assert np.all(np.diff(key[chosen]) <= 0)
    rest = np.setdiff1d(evictable, chosen)
    assert key[chosen].min() >= key[rest].max()
    # Within one key, the longest idle (in the owner's own clock) first.
    age = pol.vm_clocks(now)[owner] - pol.touch_vns
    top = evictable[key[evictable] == key[chosen[0]]]
    first = chosen[key[chosen] == key[chosen[0]]]
    assert age[first].min() >= np.sort(age[top])[::-1][first.size - 1]
    everything = pol.ranked_victims(sim.pool.frames, now)
    running = [vm for vm in range(sim.n_vms) if pol.running_vcpus[vm] > 0]
    tail = sim.pool.vm_of[everything[-10:]]
    assert set(tail.tolist()) <= set(running)
    assert pol.ranked_victims(5, now, above=NEVER).size == 0
    assert PROTECTED < 0


def test_gating_holds_a_vm_until_its_restore_lands_and_never_too_long() -> None:
    """Gated dispatches happen, each held at most the wait bound (plus a step and a slice
    another VM took meanwhile); with gating off there are none."""
    sim = run(mini(), {"name": "predictive", "gate_max_wait_ms": 2.0})
    c = sim.counters
    gated = int(c.gated_dispatches.sum())
    assert gated > 0
    per = c.gating_delay_ns.sum() / gated
    assert per <= 2_000_000 + sim.step_ns + 5_000_000
    off = run(mini(), {"name": "predictive", "gating": False}).counters
    assert off.gated_dispatches.sum() == 0
    assert off.gating_delay_ns.sum() == 0


def gate_setup(at_ns: int) -> tuple[Simulation, PredictivePaging, int]:
    """mini under predictive at `at_ns` (a step boundary), acting, with VM a's restore on the
    device and planned now, VM b planned 5 ms later; nothing held yet. Returns the step."""
    sim = Simulation(from_dict(mini()), validate_policy({"name": "predictive"}), record=False)
    sim.run(until=at_ns)
    pol = sim.policy
    assert isinstance(pol, PredictivePaging)
    pol.backed_off = False
    pol.gate_since[:] = -1
    pol._take_behind(1, at_ns)
    nxt = np.array([at_ns, at_ns + 5_000_000, NEVER, NEVER], dtype=np.int64)
    pol.next_starts = lambda now: nxt  # type: ignore[method-assign]
    pol._pending = lambda vm, now: vm == 0  # type: ignore[method-assign]
    return sim, pol, sim.step_ns


def test_a_vcpu_held_behind_a_held_vm_counts_its_hold_as_gating_delay() -> None:
    """b, planned after a held a, is refused at two boundaries: its hold (to one step past the
    last refusal) is gating delay, booked at its dispatch; the slice it then waits is not."""
    sim, pol, step = gate_setup(20_000_000)
    t = sim.now_ns
    c = sim.counters
    delay, gated = int(c.gating_delay_ns[1]), int(c.gated_dispatches[1])
    for now in (t, t + step):
        assert not pol.ready(0, now)  # a: its own restore is on the device
        assert not pol.ready(1, now)  # b: behind a
    pol.on_dispatch(1, 0, t + 40 * step)
    assert int(c.gating_delay_ns[1]) - delay == 2 * step
    assert int(c.gated_dispatches[1]) - gated == 1


def test_a_vcpu_still_held_when_the_run_ends_counts_its_hold_as_gating_delay() -> None:
    """a (its own restore) and b (behind a) are held in the last step: the summary's gating
    delay grows by that step for each, with no dispatch counted."""
    sim, pol, step = gate_setup(150_000_000 - 1_000_000)
    t = sim.now_ns
    before = sim.counters.snapshot().copy()
    assert not pol.ready(0, t)
    assert not pol.ready(1, t)
    result = sim.run()
    c = sim.counters
    assert int(c.gating_delay_ns[0]) - int(before[COUNTERS.index("gating_delay_ns"), 0]) == step
    assert int(c.gating_delay_ns[1]) - int(before[COUNTERS.index("gating_delay_ns"), 1]) == step
    assert int(c.gated_dispatches[:2].sum()) == int(
        before[COUNTERS.index("gated_dispatches"), :2].sum()
    )
    assert result.summary["gating_delay_ns"] == int(c.gating_delay_ns.sum())


def test_queued_restores_of_a_vm_that_left_the_plan_are_cancelled() -> None:
    """Reads still queued for a VM no longer in the plan are cancelled and its pages stay out."""
    sim = run(mini(), {"name": "predictive"}, steps=60)
    pol = sim.policy
    idle = next(vm for vm in range(sim.n_vms) if pol.running_vcpus[vm] == 0)
    state = sim.pool.state
    clean = np.flatnonzero(((state == CLEAN) | (state == PREFETCHED)) & (sim.pool.vm_of == idle))
    out = clean[:64]
    assert out.size > 0
    sim.machine.evict(out, sim.now_ns)  # dropped at once: swapped out, and frames to read them into
    assert np.all(state[out] == SWAPPED)
    issued = pol._issue(idle, out, sim.now_ns)  # as many as there are frames for
    assert issued > 0
    queued = sim.machine.queued_prefetches(idle)
    assert queued
    pol.next_starts = lambda now: np.where(np.arange(sim.n_vms) == idle, NEVER, now + 1)
    pol.on_step(sim.now_ns, sim.now_ns + sim.step_ns)
    assert all(op.cancelled for op in queued)
    assert np.all(sim.pool.state[out] == SWAPPED)
    assert pol.stats["cancelled_pages"] >= issued
    sim.pool.check()


def test_it_backs_off_when_the_plan_is_mostly_wrong() -> None:
    """Four VMs that sleep at random on one pCPU: most dispatches come earlier than planned,
    and the policy stays demand paging throughout."""
    vms = [
        {**vm, "activity": {"kind": "random", "burst_ms": 2.0, "sleep_ms": 2.0}}
        for vm in mini()["vms"]
    ]
    data = mini(
        vms=vms,
        scheduler={"kind": "credit", "slice_ms": 5.0},
        host={"pcpus": 1, "memory_mib": 10, "swap_mib": 256},
    )
    sim = run(data, {"name": "predictive"})
    c = sim.counters
    assert c.planned_dispatches.sum() < 0.5 * c.dispatches.sum()
    assert sim.policy.stats["backoff_steps"] == 150
    assert fingerprint(sim) == fingerprint(run(data, {"name": "demand"}))


def test_it_engages_once_the_plan_has_proven_right() -> None:
    """It starts backed off and acts after a run of planned dispatches; without back-off it
    acts from the start."""
    sim = run(mini(), {"name": "predictive"})
    assert 0 < sim.policy.stats["backoff_steps"] < 40
    assert not sim.policy.backed_off
    eager = run(mini(), {"name": "predictive", "backoff": False})
    assert eager.policy.stats["backoff_steps"] == 0


def test_three_planned_dispatches_in_a_row_engage_it() -> None:
    """Jeffreys' prior: after n planned dispatches out of n the accuracy is (n + 1/2) /
    (n + 1), which first reaches 0.7 + 0.15 at n = 3. (Under a uniform prior it took five,
    and a VM's first restores on two pCPUs came a whole round later.)"""
    sim = Simulation(from_dict(mini()), validate_policy({"name": "predictive"}), record=False)
    pol = sim.policy
    seen: list[tuple[float, bool]] = []
    track = pol._track_accuracy

    def tracking(vcpu: int, now_ns: int, gated: bool) -> None:
        track(vcpu, now_ns, gated)
        seen.append((pol.accuracy, pol.backed_off))

    pol._track_accuracy = tracking  # type: ignore[method-assign]
    while len(seen) < 3 and sim.step():
        pass
    assert int(sim.counters.planned_dispatches.sum()) >= 3
    assert [round(a, 4) for a, _ in seen[:3]] == [0.75, 0.8333, 0.875]
    assert [b for _, b in seen[:3]] == [True, True, False]


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_every_mechanism_is_a_switch_that_changes_something_or_stays_safe(mechanism: str) -> None:
    """Switching a mechanism off is accepted and the run completes with the pool intact."""
    sim = run(mini(duration_ms=60.0), {"name": "predictive", mechanism: False})
    sim.pool.check()
    assert sim.policy.params[mechanism] is False


def test_proactive_swap_out_runs_when_a_vm_goes_inactive() -> None:
    """Outgoing VMs are swapped out for the restores planned before they return."""
    on = run(mini(), {"name": "predictive"}).policy.stats
    off = run(mini(), {"name": "predictive", "swap_out": False}).policy.stats
    assert on["swap_out_pages"] > 0
    assert off["swap_out_pages"] == 0


def test_working_set_is_recent_pages_in_restore_order() -> None:
    """The restore set is the VM's swapped pages used in its last k periods (of its own time),
    newest first, capped."""
    sim = run(mini(), {"name": "predictive", "restore_periods": 2}, steps=60)
    pol: PredictivePaging = sim.policy  # type: ignore[assignment]
    vm = next(v for v in range(sim.n_vms) if pol.running_vcpus[v] == 0)
    lo, hi = sim.pool.vm_range(vm)
    sim.machine.evict(np.arange(lo, hi), sim.now_ns)
    sim.machine.complete_until(sim.now_ns + 50_000_000)
    pages = pol.restore_set(vm, sim.now_ns)
    assert pages.size > 0
    since = pol.vm_clock(vm, sim.now_ns) - pol.ws_vns
    assert np.all(pol.touch_vns[pages] >= since)
    assert np.all(np.diff(pol.touch_vns[pages]) <= 0)
    assert np.all(sim.pool.state[pages] == SWAPPED)
    pol.scale[vm] = 1.0 / 1024
    capped = pol.restore_set(vm, sim.now_ns)
    assert capped.size == min(pages.size, pol.vm_cap(vm))
    assert np.array_equal(capped, pages[: capped.size])


def test_switches_are_validated_with_a_hint() -> None:
    """A misspelt or out-of-range switch is one error naming the field and what is allowed."""
    with pytest.raises(ScenarioError, match="did you mean 'gating'"):
        validate_policy({"name": "predictive", "gatting": False})
    with pytest.raises(ScenarioError, match=r"policy\.horizon_ms"):
        validate_policy({"name": "predictive", "horizon_ms": -1})
    with pytest.raises(ScenarioError, match="recency"):
        validate_policy({"name": "predictive", "restore_order": "random"})


def test_the_removed_ledger_switch_is_read_as_false_only() -> None:
    """A scenario saved while `benefit_backoff` existed says false: it loads as the same run
    without it; true (the ledger, now removed) is one error naming the field and why."""
    old = from_dict(mini(policy={"name": "predictive", "benefit_backoff": False}))
    assert old.policy == from_dict(mini(policy={"name": "predictive"})).policy
    with pytest.raises(ScenarioError, match=r"policy\.benefit_backoff: the benefit ledger was"):
        from_dict(mini(policy={"name": "predictive", "benefit_backoff": True}))
    with pytest.raises(ScenarioError, match="unknown key"):
        from_dict(mini(policy={"name": "demand", "benefit_backoff": False}))


def test_switches_are_set_from_the_file_and_the_command_line() -> None:
    """`--set policy.lead_margin_us=200` reaches the policy of a predictive scenario."""
    scenario = from_dict(mini(policy={"name": "predictive", "gating": False}))
    changed = with_overrides(scenario, ["policy.lead_margin_us=200"])
    assert changed.policy["lead_margin_us"] == 200.0
    assert changed.policy["gating"] is False
    sim = Simulation(changed, record=False)
    assert sim.policy.margin_ns == 200_000


def test_readahead_pages_are_stamped_in_their_vms_own_clock() -> None:
    """Pages that came in by readahead count as used when they landed, in their VM's own clock:
    a stamp off that clock would make them look ages old and first to go (on scan_vs_lru
    that tripled the hot VM's faults). Restore is off, so readahead is the only prefetch."""
    policy = validate_policy({"name": "predictive", "readahead": "fixed", "restore": False})
    sim = Simulation(from_dict(mini()), policy, record=False)
    pol, pool = sim.policy, sim.pool
    original = pol.after_run
    checked = 0

    def after_run(vm: int, pages: np.ndarray, major_pages: np.ndarray) -> None:
        nonlocal checked
        original(vm, pages, major_pages)
        lo, hi = pool.vm_range(vm)
        ra = np.flatnonzero(pool.state[lo:hi] == PREFETCHED) + lo
        ra = ra[pool.load_ns[ra] >= pol.period_start[vm]]  # landed in this active period
        expected = pol.vm_time[vm] + (pool.load_ns[ra] - pol.period_start[vm])
        assert (pol.touch_vns[ra] == expected).all()
        checked += int(ra.size)

    pol.after_run = after_run  # type: ignore[method-assign]
    sim.run(until=sim.end_ns)
    assert checked > 100 and int(sim.counters.readahead_pages.sum()) > 100


@pytest.mark.parametrize("readahead", ["fixed", "adaptive"])
def test_a_pages_stamp_never_goes_back(readahead: str) -> None:
    """A page's stamp is its VM's own time at its last use: it can only move forward. (Pages
    of a fault's readahead cluster that a restore brought in before the period began once
    got a stamp from the wrong base, hundreds of ms in the past, even below zero.)"""
    tight = mini(host={"pcpus": 2, "memory_mib": 8, "swap_mib": 256})  # faults, so readahead
    sim = Simulation(
        from_dict(tight),
        validate_policy({"name": "predictive", "readahead": readahead}),
        record=False,
    )
    pol = sim.policy
    before = pol.touch_vns.copy()
    steps = 0
    while sim.step():
        steps += 1
        assert (pol.touch_vns >= before).all(), f"a stamp went back at step {steps}"
        before = pol.touch_vns.copy()
    assert int(sim.counters.readahead_pages.sum()) > 0 and pol.stats["restore_pages"] > 0


def test_background_writing_covers_a_switch_once() -> None:
    """Before a switch, the VMs whose slices end write back what the coming restores need,
    once between them. (Each ending VM once wrote that whole amount again, because pages
    already being written back did not count: on nvme_8vm_2x four times what was needed,
    and the device spent the slice's last milliseconds on writes nobody used.)"""
    from engine.scenario import load_scenario
    from tests.conftest import SCENARIOS

    sim = Simulation(
        load_scenario(SCENARIOS / "nvme_8vm_2x.toml"), {"name": "predictive"}, record=False
    )
    pol = sim.policy
    needed: list[int] = []
    write_back = sim.machine.write_back

    def counting(pages: np.ndarray, now_ns: int) -> int:
        if not needed:  # the restores due at the first switch, as they stand now
            due = [vm for vm in range(sim.n_vms) if pol.armed[vm] and pol.running_vcpus[vm] == 0]
            needed.append(sum(int(pol.restore_set(vm, now_ns).size) for vm in due))
        return write_back(pages, now_ns)

    sim.machine.write_back = counting  # type: ignore[method-assign]
    first_switch_ns = 2 * sim.scheduler.slice_ns
    sim.run(until=first_switch_ns - sim.step_ns)
    written = pol.stats["write_back_pages"]
    assert needed and needed[0] > 1000, "the first switch needs a restore"
    assert 0 < written <= needed[0]


def test_the_benefit_backoff_decides_the_same_under_both_executors() -> None:
    """The shadow counts from exact last-use times at step boundaries, so the per-reference
    executor and the fast one judge the same epochs alike and agree on every counter."""
    data = small(duration_ms=120.0, host={"pcpus": 2, "memory_mib": 8, "swap_mib": 256})
    policy = validate_policy({"name": "predictive", "backoff_on": "benefit"})
    runs = []
    for executor in ("fast", "reference"):
        sim = Simulation(from_dict(data), policy, executor=executor, record=False)
        sim.run(with_baseline=False)
        runs.append(sim)
    fast, ref = runs
    assert fast.policy.shadow_trusted  # type: ignore[attr-defined]
    assert fast.policy.judge.epochs_judged > 0  # type: ignore[attr-defined]
    assert int(fast.policy.shadow.faults.sum()) > 0  # type: ignore[attr-defined]
    assert fingerprint(fast) == fingerprint(ref)
    assert fast.policy.judge == ref.policy.judge  # type: ignore[attr-defined]


def test_below_one_and_a_half_x_the_plan_decides_as_before() -> None:
    """mini touches ~2,800 pages on 2,560 frames: the shadow is never trusted there, and with
    backoff_on = benefit the run is the plan-accuracy back-off's, counter for counter."""
    benefit = run(mini(), {"name": "predictive", "backoff_on": "benefit"})
    assert not benefit.policy.shadow_trusted  # type: ignore[attr-defined]
    assert benefit.policy.shadow.touched > 2_000  # type: ignore[attr-defined]
    assert fingerprint(benefit) == fingerprint(run(mini(), {"name": "predictive"}))


def test_a_stand_down_on_measured_benefit_keeps_restoring() -> None:
    """When the judge finds an epoch did not pay, gating, swap-out and write-back stop, but
    restores (and schedule-aware victims) go on: a VM swapped out for its cycle is brought
    back rather than left to fault everything in."""
    sim = run(mini(), {"name": "predictive", "backoff_on": "benefit"}, steps=20)
    pol = sim.policy
    assert isinstance(pol, PredictivePaging)
    pol.backed_off, pol.not_paying = False, True
    assert pol._on("restore") and pol._on("schedule_victims")
    assert not any(pol._on(s) for s in ("gating", "swap_out", "write_back"))
    pol.not_paying = False
    assert all(pol._on(s) for s in ("gating", "swap_out", "write_back", "restore"))
