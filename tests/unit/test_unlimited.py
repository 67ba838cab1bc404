"""The unlimited-memory executor: the baseline's figures exactly as the general executors give
them, while drawing only the references that can still be first touches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.executor import run_fast
from engine.pool import UNTOUCHED
from engine.simulator import Simulation
from engine.unlimited import UnlimitedExecutor
from engine.workloads import BLOCK_REFS, forget_kept_blocks
from tests.helpers import small_scenario

FIGURES = ("references", "minor_faults", "cpu_ns", "fault_cpu_ns", "major_faults", "stall_ns")


def _vms(trace: str) -> list[dict[str, Any]]:
    """One VM of every workload kind, two of them with two vCPUs, some sleeping."""
    return [
        {"name": "z", "memory_mib": 2, "vcpus": 2, "workload": {"kind": "zipf", "pages": 300}},
        {
            "name": "p",
            "memory_mib": 2,
            "workload": {"kind": "phased", "pages": 400, "ws_pages": 60, "phase_refs": 20_000},
        },
        {
            "name": "m",
            "memory_mib": 2,
            "vcpus": 2,
            "activity": {"kind": "random", "burst_ms": 3.0, "sleep_ms": 2.0},
            "workload": {
                "kind": "mixture",
                "components": [
                    {"kind": "zipf", "pages": 200, "weight": 0.8},
                    {"kind": "scan", "pages": 350, "weight": 0.2},
                ],
            },
        },
        {
            "name": "u",
            "memory_mib": 1,
            "activity": {"kind": "duty", "burst_ms": 2.0, "sleep_ms": 3.0},
            "workload": {"kind": "uniform", "pages": 100, "write_fraction": 0.5},
        },
        {"name": "s", "memory_mib": 1, "workload": {"kind": "scan", "pages": 150}},
        {"name": "t", "memory_mib": 1, "workload": {"kind": "trace", "path": trace, "loop": False}},
    ]


def _scenario(tmp_path: Path, **over: Any):
    trace = tmp_path / "t.txt"
    trace.write_text("\n".join(str(p % 90) for p in range(0, 30_000, 7)) + "\n")
    return small_scenario(vms=_vms(str(trace)), **{"host": {"pcpus": 3}, **over})


def _unlimited(scenario, executor: str = "fast", general: bool = False) -> Simulation:
    sim = Simulation(
        scenario, {"name": "demand"}, executor=executor, unlimited_memory=True, record=False
    )
    if general:
        sim.run_vcpu = run_fast  # the compiled executor every limited run uses
    elif executor == "fast":
        assert isinstance(sim.run_vcpu.__self__, UnlimitedExecutor)
    sim.run(with_baseline=False)
    return sim


def _same_run(a: Simulation, b: Simulation) -> None:
    for name in FIGURES:
        assert np.array_equal(getattr(a.counters, name), getattr(b.counters, name)), name
    assert np.array_equal(a.pool.state != UNTOUCHED, b.pool.state != UNTOUCHED)
    assert [(x.pcpu, x.vcpu, x.start_ns, x.end_ns, x.reason) for x in a.slices] == [
        (x.pcpu, x.vcpu, x.start_ns, x.end_ns, x.reason) for x in b.slices
    ]


def test_baseline_runs_use_the_unlimited_executor(tmp_path):
    """Demand paging with unlimited memory and no recording takes the unlimited executor;
    a limited run and a recorded one do not."""
    s = _scenario(tmp_path)
    sim = Simulation(s, {"name": "demand"}, unlimited_memory=True, record=False)
    assert isinstance(sim.run_vcpu.__self__, UnlimitedExecutor)
    assert Simulation(s, {"name": "demand"}, record=False).run_vcpu is run_fast
    recorded = Simulation(s, {"name": "demand"}, unlimited_memory=True, record=True)
    assert recorded.run_vcpu is run_fast


def test_unlimited_executor_agrees_with_the_compiled_one(tmp_path):
    """Every kind of stream, vCPUs sharing a VM's pages, sleeps, a trace that ends: the same
    references, first touches, CPU time, touched pages and slices as run_fast gives."""
    s = _scenario(tmp_path, duration_ms=150.0)
    fast = _unlimited(s)
    general = _unlimited(s, general=True)
    _same_run(fast, general)
    assert fast.counters.minor_faults.all() and fast.counters.major_faults.sum() == 0
    assert "done" in {x.reason for x in fast.slices}, "the trace never ended"
    assert "sleep" in {x.reason for x in fast.slices}, "no VM slept"


def test_unlimited_executor_agrees_with_the_per_reference_model(tmp_path):
    """The same figures and slices as step_one, one reference at a time."""
    host = {"pcpus": 3, "minor_fault_us": 3.0, "step_us": 500}
    s = _scenario(tmp_path, duration_ms=25.0, host=host)
    _same_run(_unlimited(s), _unlimited(s, executor="reference"))


def test_references_that_cannot_be_first_touches_are_not_drawn(tmp_path):
    """Once a stream's reachable pages are all touched its references are counted, not
    drawn: the zipf VM makes far more references than the blocks drawn for it hold, and the
    phased VM's phases skip blocks."""
    forget_kept_blocks()
    s = _scenario(tmp_path, duration_ms=400.0)
    sim = _unlimited(s)
    zipf, phased = sim.vcpus[0], sim.vcpus[2]
    assert zipf.pos > 10 * BLOCK_REFS
    assert zipf.stream.generated <= 2 * BLOCK_REFS
    assert phased.pos > 10 * BLOCK_REFS
    assert None in phased.stream.blocks.kept, "the phased stream drew every block"
    assert _same_run(sim, _unlimited(s, general=True)) is None


@pytest.mark.parametrize("policy", ["predictive", "oracle"])
def test_other_policies_keep_the_general_executor(tmp_path, policy):
    """A policy other than demand may act on an unlimited run (gating, prefetching), so its
    unlimited run keeps run_fast."""
    s = _scenario(tmp_path)
    sim = Simulation(s, {"name": policy}, unlimited_memory=True, record=False)
    assert sim.run_vcpu is run_fast
