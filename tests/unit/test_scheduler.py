"""Schedulers: round robin order, credit shares by weight and cap, and the plan."""

from __future__ import annotations

import numpy as np

from engine import simulate, with_overrides
from engine.scenario import Scheduler as SchedulerParams
from engine.scheduler import Credit, RoundRobin
from engine.simulator import Simulation
from tests.helpers import small_scenario


def _vms(n: int, **kw) -> list[dict]:
    return [
        {"name": f"v{i}", "memory_mib": 2, "workload": {"kind": "uniform", "pages": 50}, **kw}
        for i in range(n)
    ]


def test_round_robin_runs_in_fifo_order():
    """Round robin takes vCPUs in the order they were queued, then requeues at the tail."""
    rr = RoundRobin(SchedulerParams(kind="rr"), 1, [0, 1, 2], [256] * 3, [0] * 3)
    for v in (0, 1, 2):
        rr.enqueue(v, 0)
    order = []
    for _ in range(6):
        v, _ = rr.pick(0)
        order.append(v)
        rr.charge(v, 1, 0)
        rr.enqueue(v, 0)
    assert order == [0, 1, 2, 0, 1, 2]


def test_pick_skips_vcpus_that_are_not_ready():
    """Gating: a vCPU that is not ready keeps its place while the next one runs."""
    rr = RoundRobin(SchedulerParams(kind="rr"), 1, [0, 1], [256] * 2, [0] * 2)
    rr.enqueue(0, 0)
    rr.enqueue(1, 0)
    v, skipped = rr.pick(0, lambda x: x != 0)
    assert (v, skipped) == (1, 1)
    assert rr.order() == [0]


def test_credit_shares_follow_weights():
    """Under contention, CPU time splits in proportion to weight (512:256 ≈ 2:1)."""
    vms = _vms(2)
    vms[0]["weight"] = 512
    s = small_scenario(
        vms=vms,
        host={"pcpus": 1, "memory_mib": 64},
        duration_ms=600.0,
        scheduler={"kind": "credit", "slice_ms": 10.0},
    )
    run = simulate(s, record=False)
    ran = [v["run_ns"] for v in run.vms]
    assert 1.8 < ran[0] / ran[1] < 2.2


def test_credit_cap_limits_cpu():
    """A VM capped at 25% gets about a quarter of a pCPU even when the pCPU is otherwise idle."""
    vms = _vms(1, cap_pct=25)
    s = small_scenario(
        vms=vms,
        host={"pcpus": 1, "memory_mib": 64},
        duration_ms=900.0,
        scheduler={"kind": "credit", "slice_ms": 10.0},
    )
    run = simulate(s, record=False)
    share = run.vms[0]["run_ns"] / 900e6
    assert 0.2 < share < 0.32


def test_plan_is_exact_when_every_vm_always_runs():
    """With always-runnable VMs and no memory pressure the plan predicts every dispatch."""
    s = small_scenario(vms=_vms(5), host={"pcpus": 2, "memory_mib": 64}, duration_ms=200.0)
    run = simulate(s, record=False)
    assert run.summary["dispatches"] > 30
    assert run.summary["plan_accuracy"] == 1.0


def test_random_sleeps_make_the_plan_wrong():
    """VMs that sleep at random make the plan miss some dispatches."""
    vms = _vms(5, activity={"kind": "random", "burst_ms": 2.0, "sleep_ms": 3.0})
    s = small_scenario(vms=vms, host={"pcpus": 2, "memory_mib": 64}, duration_ms=200.0)
    run = simulate(s, record=False)
    assert run.summary["plan_accuracy"] < 0.9


def test_plan_matches_the_slices_that_ran():
    """The plan made at a boundary lists, in order, the next slices that then actually ran."""
    s = small_scenario(
        vms=_vms(5),
        host={"pcpus": 2, "memory_mib": 64},
        duration_ms=100.0,
        scheduler={"kind": "rr", "slice_ms": 5.0},
    )
    sim = Simulation(s, record=False)
    for _ in range(7):
        sim.step()
    plan = sim.plan()
    sim.run(with_baseline=False)
    later = [x for x in sim.slices if x.start_ns >= plan.made_ns]
    later.sort(key=lambda x: (x.start_ns, x.pcpu))
    n = min(6, plan.vcpu.size)
    assert [x.vcpu for x in later[:n]] == plan.vcpu[:n].tolist()
    assert np.array_equal([x.start_ns for x in later[:n]], plan.start_ns[:n])


def test_credit_boost_runs_woken_vcpu_first():
    """A vCPU that just woke with credit left runs before one that used its slice."""
    c = Credit(SchedulerParams(), 1, [0, 1], [256, 256], [0, 0])
    c.boundary(0)
    c.enqueue(0, 0)
    c.enqueue(1, 0, woke=True)
    assert c.order() == [1, 0]


def test_rr_and_credit_both_run_every_vm():
    """Neither scheduler starves a VM."""
    for kind in ("rr", "credit"):
        s = with_overrides(
            small_scenario(vms=_vms(6), host={"pcpus": 2, "memory_mib": 64}),
            [f'scheduler.kind="{kind}"'],
        )
        run = simulate(s, record=False)
        assert all(v["references"] > 0 for v in run.vms), kind
