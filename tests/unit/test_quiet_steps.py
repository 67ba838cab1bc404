"""engine.quiet_steps: steps run in one compiled call give what step() gives, step by step."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from engine.quiet_steps import QuietSteps
from engine.simulator import Simulation
from tests.helpers import small_scenario


def _run(scenario: Any, quiet: bool) -> tuple[Simulation, int]:
    """A recorded run, with or without quiet steps; and how many steps ran quiet."""
    sim = Simulation(scenario, record=True, quiet_steps=quiet)
    quiet_steps = 0
    if sim._quiet is not None:
        loop = sim._quiet
        advance = loop.advance

        def counting(s: Simulation, until_ns: int, boundary_done: bool = False) -> bool:
            nonlocal quiet_steps
            before = s.now_ns
            ran = advance(s, until_ns, boundary_done)
            quiet_steps += (s.now_ns - before) // s.step_ns if ran else 0
            return ran

        loop.advance = counting  # type: ignore[method-assign]
    sim.run(with_baseline=False)
    return sim, quiet_steps


def _figures(sim: Simulation) -> str:
    rec = sim.recorder.recording if sim.recorder is not None else None
    assert rec is not None
    frames = [np.asarray(rec.residency(i)).tolist() for i in range(rec.n_frames)]
    return json.dumps(
        {
            "result": sim.finish().to_json(),
            "slices": [(x.pcpu, x.vcpu, x.start_ns, x.end_ns, x.reason) for x in sim.slices],
            "frames": frames,
            "counters": [np.asarray(c).tolist() for c in rec.counters],
            "free": rec.free_frames,
            "pool": [sim.pool.state.tolist(), sim.pool.last_use_ns.tolist()],
        },
        sort_keys=True,
    )


@pytest.mark.parametrize(
    "over",
    [
        {},  # three VMs on two pCPUs, writes, sleeps, credit accounting, a frame every 5 ms
        {"policy": {"name": "demand", "victims": "fifo", "readahead": "off"}},
        {"scheduler": {"kind": "rr", "slice_ms": 20.0}, "recording": {"frame_ms": 30.0}},
        {"host": {"memory_mib": 3, "low_watermark_pct": 1.0, "high_watermark_pct": 2.0}},
        # Faults that read the policy's own pages, from its rows (engine.hotpath.row_fault).
        {"policy": {"name": "leap"}},
        {"policy": {"name": "demand", "readahead": "adaptive"}},
    ],
)
def test_quiet_steps_give_what_step_gives(over: dict[str, Any]) -> None:
    """Results, slices, every frame and the pool's final state are identical with and without
    quiet steps, and most steps ran quiet."""
    scenario = small_scenario(duration_ms=80.0, **over)
    quiet, n_quiet = _run(scenario, quiet=True)
    plain, _ = _run(scenario, quiet=False)
    assert isinstance(quiet._quiet, QuietSteps)
    assert quiet.counters.major_faults.sum() > 50 and quiet.counters.swap_out_pages.sum() > 0
    assert n_quiet > (quiet.end_ns // quiet.step_ns) // 3
    assert _figures(quiet) == _figures(plain)


def test_a_policy_with_a_boundary_hook_runs_no_quiet_step() -> None:
    """Predictive acts at every boundary: its steps all run in Python."""
    sim = Simulation(small_scenario(), {"name": "predictive"}, record=False)
    assert sim._quiet is None


def test_runs_in_pieces_and_single_steps_give_the_whole_run() -> None:
    """run(until=...) at odd times, step() between, then run() to the end: the same figures
    as one run with every step in Python (quiet steps stop at until and hand state back)."""
    scenario = small_scenario(duration_ms=80.0)
    pieces = Simulation(scenario, record=True)
    for until_ms in (0.7, 9.3, 9.4, 31.0):
        pieces.run(until=int(until_ms * 1e6))
        assert pieces.now_ns >= int(until_ms * 1e6)
        pieces.step()
    pieces.run(with_baseline=False)
    plain, _ = _run(scenario, quiet=False)
    assert _figures(pieces) == _figures(plain)
