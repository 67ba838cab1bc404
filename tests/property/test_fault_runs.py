"""Faults end to end: every shipped scenario under every policy, with each injected fault at its
highest rate, ends within a bounded amount of simulated work, loses no page, and its summary
counts exactly the faults that happened.

The deadline is counted in work, never in wall time: each step of simulated time must advance
the clock by exactly one step, and within a step the per-reference model may be entered only a
bounded number of times (a loop that waited without progress would exceed it)."""

from __future__ import annotations

import numpy as np
import pytest

import engine.executor as executor
from engine import load_scenario, with_overrides
from engine.device import BACKGROUND_WRITE, PREFETCH_READ, WRITE_TO_FREE, Op
from engine.faults import MAX_ATTEMPTS
from engine.scenario import work_estimate
from engine.simulator import Simulation
from tests.conftest import SCENARIOS
from tests.property.test_invariants import Watch, check_bandwidth, check_slices

FILES = sorted(SCENARIOS.glob("*.toml"))
STEP_ONE = executor.step_one  # the model itself, wrapped afresh for each run
POLICIES = ("demand", "predictive", "leap", "oracle")
# Each fault at its highest allowed rate (engine/scenario/schema.py, Faults; host.swap_mib),
# with the simulated ms to run. They are applied one class at a time: at once, failed writes
# would leave nothing on swap to read, and a swap device of 0 MiB nothing to write, so two
# classes would never happen. Runs are short; the two classes that keep memory full (every
# write fails, or has nowhere to go) send each reference through the per-reference model
# once memory is full, so they run shorter still. A scenario whose references are cheap runs
# shorter again, so that no run may make more than MAX_REFS references.
MAX_REFS = 4_000_000
FAULTS = {
    "read_errors": (["faults.read_error_rate=1.0"], 100),
    "write_errors": (["faults.write_error_rate=1.0"], 50),
    "latency_spikes": (["faults.latency_spike_rate=1.0", "faults.latency_spike_us=10000000"], 100),
    "swap_full": (["host.swap_mib=0"], 50),
}
# Scenarios that fill their host's memory only after a short run would end get a smaller
# host (MiB), so that every scenario meets every fault.
SMALLER_HOST_MIB = {"density": 16, "quickstart": 32, "real_programs": 1}
# The oracle on the HDD reads nothing back within 100 ms: every page it evicts is used later.
NO_READ_IN_SHORT_RUN = {("hdd_4vm", "oracle")}


class WorkDeadline:
    """Counts entries into the per-reference model within a step; a step that needs more than
    its references could explain (each one consumes CPU time) is a hang."""

    def __init__(self, sim: Simulation):
        s = sim.scenario
        cpu_ns = min(vm.workload.cpu_ns_per_ref for vm in s.vms)
        # References one step can hold, times a margin for the waits around each one
        # (reclaim, a cancelled prefetch, a write to wait for), plus a floor.
        self.cap = 8 * s.host.pcpus * (sim.step_ns // cpu_ns + 1) + 10_000
        self.calls = 0
        self.most = 0

    def wrap(self, step_one):
        def counted(*args):
            self.calls += 1
            if self.calls > self.cap:
                raise AssertionError(f"no progress: {self.calls:,} model steps in one step")
            return step_one(*args)

        return counted

    def next_step(self) -> None:
        self.most = max(self.most, self.calls)
        self.calls = 0


class Started:
    """What the device started, by class: operations and pages."""

    def __init__(self, sim: Simulation):
        self.ops = np.zeros(4, dtype=np.int64)
        self.pages = np.zeros(4, dtype=np.int64)
        sim.device.compiled_dispatch = False  # every start through _start, counted here
        start = sim.device._start

        def counted(op: Op, lane: int, start_ns: int) -> None:
            self.ops[op.cls] += 1
            self.pages[op.cls] += op.pages.size
            start(op, lane, start_ns)

        sim.device._start = counted


def run_checked(scenario, policy: str, monkeypatch) -> tuple[Simulation, Started, dict]:
    """Run to the end, checking every invariant after every step and the work deadline."""
    sim = Simulation(scenario, policy, record=False)
    watch = Watch(sim)  # wraps the device's _start first: Started sees each op after it
    started = Started(sim)
    deadline = WorkDeadline(sim)
    monkeypatch.setattr(executor, "step_one", deadline.wrap(STEP_ONE))
    steps = 0
    max_steps = -(-sim.end_ns // sim.step_ns)
    while True:
        before = sim.pool.state.copy()
        t0 = sim.now_ns
        more = sim.step()
        watch.check_step(before)
        deadline.next_step()
        if not more:
            break
        steps += 1
        assert sim.now_ns == min(t0 + sim.step_ns, sim.end_ns), "simulated time stood still"
        assert steps <= max_steps
    assert steps == max_steps
    result = sim.finish()
    sim.pool.check()
    check_slices(sim)
    check_bandwidth(sim)
    return sim, started, result.summary


@pytest.mark.slow  # 32 cases of 4 short runs, each checked after every step: 135 s in all on
# the shared 2-core machine at a load average of 10, 0.5-20 s a case. real_programs takes half
# (each Simulation it builds loads four traces anew), then the write-error runs (every reclaim
# writes and fails) and the oracle.
@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_fault_at_its_highest_rate_ends_loses_nothing_and_is_counted(
    path, policy, monkeypatch
):
    """Each fault class at its top rate: the run ends, no page is lost, each fault is counted."""
    base = load_scenario(path)
    if path.stem in SMALLER_HOST_MIB:
        base = with_overrides(base, [f"host.memory_mib={SMALLER_HOST_MIB[path.stem]}"])
    for kind, (overrides, duration_ms) in FAULTS.items():
        scenario = with_overrides(base, [*overrides, f"duration_ms={duration_ms}"])
        work = work_estimate(scenario)
        if work > MAX_REFS:
            scenario = with_overrides(scenario, [f"duration_ms={duration_ms * MAX_REFS / work}"])
        sim, started, s = run_checked(scenario, policy, monkeypatch)
        dev = sim.device
        # Every fault the device drew is booked to a VM: the per-VM sums are the host's.
        assert s["read_retries"] == s["device_read_retries"], kind
        assert s["latency_spikes"] == s["device_latency_spikes"], kind
        assert s["write_failed_pages"] >= s["device_write_failures"], kind
        writes = started.ops[WRITE_TO_FREE] + started.ops[BACKGROUND_WRITE]
        write_pages = started.pages[WRITE_TO_FREE] + started.pages[BACKGROUND_WRITE]
        if kind == "read_errors":
            if (path.stem, policy) not in NO_READ_IN_SHORT_RUN:
                assert dev.demand_ops > 0, "no read met the fault: lengthen the run"
            # Every demand read takes every try; every prefetch read fails and is left on swap.
            expected = (MAX_ATTEMPTS - 1) * dev.demand_ops + started.ops[PREFETCH_READ]
            assert s["read_retries"] == expected
        elif kind == "write_errors":
            assert writes > 0, "no write met the fault: lengthen the run"
            assert s["device_write_failures"] == writes
            assert s["write_failed_pages"] == write_pages
            assert s["swap_out_pages"] == 0, "a failed write was counted as a swap-out"
        elif kind == "latency_spikes":
            assert s["latency_spikes"] > 0, "no operation met the fault: lengthen the run"
            assert s["latency_spikes"] == dev.demand_ops + int(started.ops.sum())
        else:
            assert s["swap_out_pages"] == 0, "a write with no swap space was counted"
            # Nothing can be evicted (nothing is clean): a vCPU that needs a frame is throttled.
            assert s["swap_full_stalls"] > 0, "memory never filled: lengthen the run"
            # Write-backs (the only writes that start without a slot) are refused at the end.
            assert s["swap_full_refused_pages"] <= started.pages[BACKGROUND_WRITE]
            assert s["swap_in_pages"] == 0
        if kind != "swap_full":
            assert s["swap_full_refused_pages"] == 0 and s["swap_full_stalls"] == 0
