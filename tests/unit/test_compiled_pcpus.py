"""engine.compiled_pcpus: a step's pCPUs run in one compiled call give what each pCPU's
_run_pcpu in Python gives, for policies with a step hook (the oracle; predictive and the
schedule-oracle, which read the pages each run touched)."""

from __future__ import annotations

import inspect
import json
from typing import Any

import numpy as np
import pytest

from engine.compiled_pcpus import CompiledPcpus
from engine.hotpath import slots as sl
from engine.hotpath import step_pcpus as sp
from engine.simulator import Simulation
from tests.helpers import small_scenario


def _figures(sim: Simulation) -> str:
    """Everything a run produced: results, slices, every frame, the pool's final state."""
    rec = sim.recorder.recording if sim.recorder is not None else None
    assert rec is not None
    return json.dumps(
        {
            "result": sim.finish().to_json(),
            "slices": [(x.pcpu, x.vcpu, x.start_ns, x.end_ns, x.reason) for x in sim.slices],
            "frames": [np.asarray(rec.residency(i)).tolist() for i in range(rec.n_frames)],
            "counters": [np.asarray(c).tolist() for c in rec.counters],
            "pool": [sim.pool.state.tolist(), sim.pool.last_use_ns.tolist()],
        },
        sort_keys=True,
    )


TWO_VCPUS = [  # a VM with two vCPUs: its pages are never run on two pCPUs of one call
    {"name": "a", "memory_mib": 4, "vcpus": 2, "workload": {"kind": "zipf", "zipf_alpha": 0.8}},
    {"name": "b", "memory_mib": 4, "workload": {"kind": "scan", "pages": 700}},
]


@pytest.mark.parametrize(
    ("policy", "over"),
    [
        ("oracle", {}),  # three VMs on two pCPUs, sleeps, slices of 5 ms
        # More pCPUs than a call runs (CHUNK), an idle one now and then.
        ("oracle", {"host": {"pcpus": 6}}),
        ("oracle", {"scheduler": {"kind": "rr", "slice_ms": 0.7}, "duration_ms": 40.0}),
        ("predictive", {}),
        ("predictive", {"host": {"pcpus": 3}, "vms": TWO_VCPUS}),
        ("schedule-oracle", {"host": {"pcpus": 6}}),
    ],
)
def test_compiled_pcpus_give_what_run_pcpu_gives(
    monkeypatch, policy: str, over: dict[str, Any]
) -> None:
    """Results, slices, every frame and the pool's final state are identical with the pCPUs
    run in one compiled call and each in Python; a call ran two pCPUs or more, one handed one
    over."""
    stops: list[tuple[int, int]] = []
    real = sp.run_pcpus

    def counting(p_from: int, p_to: int, *args: Any) -> int:
        stop = real(p_from, p_to, *args)
        stops.append((p_to - p_from, stop - p_from))
        return int(stop)

    monkeypatch.setattr(sp, "run_pcpus", counting)
    scenario = small_scenario(**over)
    compiled = Simulation(scenario, policy, record=True)
    compiled.run(with_baseline=False)
    plain = Simulation(scenario, policy, record=True, quiet_steps=False)
    plain.run(with_baseline=False)
    assert isinstance(compiled._pcpus, CompiledPcpus) and plain._pcpus is None
    assert compiled.counters.major_faults.sum() > 50
    assert any(ran >= 2 for _, ran in stops), "no call ran two pCPUs"
    assert any(ran < size for size, ran in stops), "no pCPU was handed to Python"
    assert _figures(compiled) == _figures(plain)


@pytest.mark.parametrize("policy", ["demand", "leap"])
def test_policies_whose_kernel_reclaims_run_each_pcpu_in_python(policy: str) -> None:
    """A kernel that reclaims from a kept list (demand, leap) is never run a step's pCPUs at
    a time (a page may leave the pool while a call runs)."""
    sim = Simulation(small_scenario(duration_ms=5.0), policy, record=False)
    sim.run(with_baseline=False)
    assert sim._pcpus is None


def test_the_kernel_adds_to_the_counters_in_the_slots_order() -> None:
    """run_pcpus takes the VM counters after its delta in slots.DELTA_COUNTERS's order, the
    order the Workspace hands them in."""
    names = list(inspect.signature(sp.run_pcpus.py_func).parameters)
    at = names.index("delta") + 1
    assert tuple(names[at : at + sl.N_DELTAS]) == sl.DELTA_COUNTERS
