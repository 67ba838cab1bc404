"""Injected faults: reads retried, failed writes keep pages dirty, a full swap device
throttles, a wrong plan is measured; the work budget refuses runaway scenarios."""

from __future__ import annotations

import numpy as np
import pytest

from engine import ScenarioError, from_dict, simulate, with_overrides
from engine.faults import MAX_ATTEMPTS, FaultModel, uniform
from engine.pool import DIRTY, SWAPPED, UNTOUCHED, WRITING
from engine.scenario import check_budget
from engine.simulator import Simulation
from tests.helpers import small_scenario


def test_draws_depend_only_on_the_operation_number():
    """The same counter always gives the same draw; draws look uniform."""
    c = np.arange(100_000, dtype=np.uint64)
    a, b = uniform(7, 1, c), uniform(7, 1, c)
    assert np.array_equal(a, b)
    assert 0.49 < a.mean() < 0.51 and a.min() >= 0 and a.max() < 1
    assert not np.array_equal(a, uniform(8, 1, c))


def test_read_attempts_follow_the_error_rate():
    """With a 50% error rate reads take about two tries, never more than the cap."""
    tries = FaultModel(1, read_error_rate=0.5).read_attempts(np.arange(50_000))
    assert 1.9 < tries.mean() < 2.1 and tries.max() <= MAX_ATTEMPTS


def test_read_errors_slow_but_never_lose_reads():
    """Failed reads are retried: more device time and stall, the same pages in the end."""
    s = small_scenario()
    clean = simulate(s, record=False)
    faulty = simulate(with_overrides(s, ["faults.read_error_rate=0.5"]), record=False)
    assert faulty.summary["device_read_retries"] > 0
    assert faulty.summary["stall_fraction"] > clean.summary["stall_fraction"]
    # Each retry is booked to the VM that waited for it.
    assert sum(vm["read_retries"] for vm in faulty.vms) == faulty.summary["device_read_retries"]


def test_failed_writes_keep_pages_resident_and_dirty():
    """When every write fails, nothing dirty ever reaches swap; the pool stays consistent."""
    s = with_overrides(small_scenario(), ["faults.write_error_rate=1.0"])
    sim = Simulation(s, record=False)
    sim.run(with_baseline=False)
    sim.pool.check()
    assert sim.device.write_failures > 0
    assert sim.counters.swap_full_stalls.sum() >= 0
    swapped = sim.pool.state == SWAPPED
    # Only pages that were clean copies can be on swap; with no successful write, none are.
    assert not swapped.any()


def test_full_swap_device_throttles_instead_of_losing_pages():
    """A swap device too small for the overcommit stalls VMs; every touched page survives."""
    s = small_scenario(host={"swap_mib": 1})
    sim = Simulation(s, record=False)
    touched = np.zeros(sim.pool.n_pages, dtype=bool)
    while sim.step():
        touched |= sim.pool.state != UNTOUCHED
        sim.pool.check()
        assert not np.any(touched & (sim.pool.state == UNTOUCHED))
    assert sim.pool.free_slots == 0
    assert int(np.count_nonzero(sim.pool.state == DIRTY)) > 0
    assert sim.counters.swap_full_stalls.sum() > 0


def test_latency_spikes_are_counted_and_cost_time():
    """Spikes add their latency to the operations they hit."""
    s = small_scenario()
    spiky = simulate(
        with_overrides(s, ["faults.latency_spike_rate=0.2", "faults.latency_spike_us=2000"]),
        record=False,
    )
    assert spiky.summary["device_latency_spikes"] > 0
    assert sum(vm["latency_spikes"] for vm in spiky.vms) == spiky.summary["device_latency_spikes"]
    assert spiky.summary["references"] < simulate(s, record=False).summary["references"]


def test_plan_errors_show_in_plan_accuracy():
    """A plan that is half wrong is measured as such."""
    vms = [
        {"name": f"v{i}", "memory_mib": 2, "workload": {"kind": "uniform", "pages": 50}}
        for i in range(5)
    ]
    s = small_scenario(vms=vms, host={"memory_mib": 64}, duration_ms=200.0)
    right = simulate(s, record=False).summary["plan_accuracy"]
    wrong = simulate(with_overrides(s, ["faults.plan_error_rate=0.5"]), record=False)
    assert right == 1.0 and wrong.summary["plan_accuracy"] < 0.8


def test_work_budget_refuses_runaway_scenarios():
    """A scenario asking for more references than the budget is refused, naming the fix."""
    data = {
        "duration_ms": 3_600_000.0,
        "vms": [
            {"name": f"v{i}", "vcpus": 64, "workload": {"cpu_ns_per_ref": 1}} for i in range(4)
        ],
    }
    with pytest.raises(ScenarioError, match="budget"):
        from_dict(data)
    s = small_scenario()
    with pytest.raises(ScenarioError, match="shorten duration_ms"):
        check_budget(s, max_refs=1000)


def test_guest_memory_budget():
    """Guest memory beyond what the page arrays may hold is refused."""
    vms = [{"name": f"v{i}", "memory_mib": 4_000_000} for i in range(100)]
    with pytest.raises(ScenarioError, match="pages in all"):
        from_dict({"duration_ms": 1.0, "vms": vms})


def test_failed_writes_are_not_swap_outs():
    """A write that fails leaves nothing on swap: it counts as a failure, not a swap-out."""
    s = with_overrides(small_scenario(), ["faults.write_error_rate=1.0"])
    summary = simulate(s, record=False).summary
    assert summary["device_write_to_free_pages"] + summary["device_background_write_pages"] > 0
    assert summary["write_failed_pages"] > 0
    assert summary["swap_out_pages"] == 0


def test_writes_with_no_swap_space_are_refused_not_swap_outs():
    """Write-backs to a swap device with no free slot are refused and counted as such."""
    s = small_scenario(host={"swap_mib": 0})
    summary = simulate(s, "predictive", record=False).summary
    assert summary["device_background_write_pages"] > 0  # the policy did try to write back
    assert summary["swap_out_pages"] == 0
    assert summary["swap_full_refused_pages"] > 0


def test_swap_outs_are_the_pages_successful_writes_left_on_swap():
    """With half the writes failing, swap-outs count exactly the pages that reached swap."""
    s = with_overrides(small_scenario(), ["faults.write_error_rate=0.5"])
    sim = Simulation(s, record=False)
    reached = np.zeros(sim.n_vms, dtype=np.int64)
    finish = sim.pool.finish_write

    def finish_write(op):
        freed = finish(op)
        reached[op.vm] += freed
        return freed

    finish_many = sim.pool.finish_writes

    def finish_writes(ops, swap_out):
        # Successful writes ending together, in one compiled pass: each one's WRITING pages.
        for op in ops:
            reached[op.vm] += int(np.count_nonzero(sim.pool.state[op.pages] == WRITING))
        return finish_many(ops, swap_out)

    sim.pool.finish_write = finish_write
    sim.pool.finish_writes = finish_writes
    sim.run(with_baseline=False)
    assert sim.device.write_failures > 0 and reached.sum() > 0
    # Only eviction writes run here (demand paging writes back nothing ahead of eviction).
    assert np.array_equal(sim.counters.swap_out_pages, reached)
