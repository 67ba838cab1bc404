"""The Machine and the context policies see: policies get a narrow context, never the
Simulation, and the machine's services count what a policy causes."""

from __future__ import annotations

import ast

import numpy as np

from engine import Simulation, load_scenario, with_overrides
from engine.device import PREFETCH_READ
from engine.machine import Machine
from engine.paging import PagingServices
from engine.policies.context import PolicyContext
from engine.pool import CLEAN, DIRTY, SWAPPED
from engine.tools.imports import ENGINE_DIR
from tests.conftest import SCENARIOS


def quickstart(policy: str = "demand", **switches: object) -> Simulation:
    scenario = load_scenario(SCENARIOS / "quickstart.toml")
    return Simulation(scenario, {"name": policy, **switches}, record=False)


def test_policy_modules_never_name_the_simulation():
    """No module of engine/policies imports engine.simulator, even for type checking."""
    for path in sorted((ENGINE_DIR / "policies").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert node.module != "engine.simulator", f"{path.name} imports the simulator"


def test_a_policy_gets_the_context_and_the_machine():
    """The policy holds a PolicyContext and the simulation's Machine, not the Simulation."""
    sim = quickstart("predictive")
    pol = sim.policy
    assert isinstance(pol.ctx, PolicyContext)
    assert isinstance(pol.machine, Machine) and pol.machine is sim.machine
    held = [*vars(pol).values(), *vars(pol.ctx).values()]
    assert not any(v is sim for v in held)
    assert pol.ctx.vcpu_vm.tolist() == [vc.vm for vc in sim.vcpus]
    assert not pol.ctx.vcpu_vm.flags.writeable


def test_the_plan_reaches_as_far_as_the_policy_looks():
    """A policy's declared horizon_ns stretches the plan's horizon, seen by the context too."""
    sim = quickstart("predictive", horizon_ms=900.0)
    assert sim.policy.horizon_ns == 900_000_000
    assert sim.plan_horizon_ns == sim.ctx.plan_horizon_ns >= 900_000_000


def test_prefetch_returns_the_reads_it_queued():
    """The ops prefetch returns are queued on the device and hold exactly the pages issued."""
    sim = quickstart()
    for _ in range(40):
        sim.step()
    m = sim.machine
    vm = 0
    lo, hi = m.pool.vm_range(vm)
    state = m.pool.state[lo:hi]
    resident = lo + np.flatnonzero((state == CLEAN) | (state == DIRTY))
    m.evict(resident[:20], sim.now_ns)
    m.device.dispatch(sim.now_ns, sim.now_ns + 1)
    m.complete_until(sim.now_ns + 1_000_000_000)  # the writes of dirty victims land
    out = resident[:20][m.pool.state[resident[:20]] == SWAPPED]
    assert out.size > 0
    before = int(m.counters.prefetch_issued[vm])
    ops = m.prefetch(vm, out, sim.now_ns, batch=8)
    pages = np.concatenate([op.pages for op in ops])
    assert sorted(pages.tolist()) == sorted(out.tolist())
    assert int(m.counters.prefetch_issued[vm]) - before == pages.size
    assert all(op in m.device.queues[PREFETCH_READ] for op in ops)
    assert m.prefetch(vm, out, sim.now_ns) == []  # in flight now: nothing left to read


def test_gated_dispatches_are_counted_by_the_machine():
    """count_gated_dispatch adds the wait and one gated dispatch to that VM only."""
    m = quickstart().machine
    m.count_gated_dispatch(1, 2_500)
    m.count_gated_dispatch(1, 500)
    assert m.counters.gating_delay_ns.tolist()[:2] == [0, 3_000]
    assert m.counters.gated_dispatches.tolist()[:2] == [0, 2]


def test_a_reclaim_from_the_kept_list_in_one_call_is_the_reclaim_in_python(monkeypatch):
    """Reclaim taking LRU and FIFO victims from the kept list in one compiled call gives the
    run the Python reclaim (the policy's victims, then evict) gives, figure for figure."""
    scenario = load_scenario(SCENARIOS / "nvme_8vm_2x.toml")
    scenario = with_overrides(scenario, ["duration_ms=300"])
    for victims in ("lru", "fifo"):
        policy = {"name": "demand", "victims": victims}
        calls = []
        real = PagingServices._reclaim_kept

        def counted(self, *args, real=real, calls=calls):
            freed = real(self, *args)
            calls.append(freed)
            return freed

        with monkeypatch.context() as m:
            m.setattr(PagingServices, "_reclaim_kept", counted)
            # Steps in Python: quiet steps would reclaim in their own compiled loop.
            sim = Simulation(scenario, policy, record=False, quiet_steps=False)
            fast = sim.run(with_baseline=False)
        assert sum(1 for freed in calls if freed >= 0) > 10  # the one-call path ran
        with monkeypatch.context() as m:
            m.setattr(PagingServices, "_reclaim_kept", lambda self, *args: -1)
            in_python = Simulation(scenario, policy, record=False, quiet_steps=False)
            slow = in_python.run(with_baseline=False)
        assert fast.summary == slow.summary and fast.vms == slow.vms
