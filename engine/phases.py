"""Warm-up apart from steady state: one run's headline figures before and after a split time.

The split is a fixed share of the simulated time (`WARMUP_SHARE`, the first fifth), the same
instant for every policy and seed, so that the paired difference B − A compares like with
like; a split read from a run's own state (pool full, plan learned) would fall at different
times in A and B. Why a fifth: on nvme_8vm_2x (seed 7, 1.5 s) the pool is full after 42 ms
under demand and predictive paging alike, and predictive's lost time grows over the first
300 ms (118 ms, then 263 ms at 150 and 300 ms) and not at all for the next 900 ms: its
start-up (no working set learnt yet, every VM restored for the first time) is over by then.

The counters are snapshot at the first step boundary at or after the split (one `step_us`
late at most): a copy of a few per-VM arrays once per run, nothing per step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.metrics import lost_time_ns
from engine.scenario import Scenario
from engine.simulator import RunResult, Simulation

WARMUP_SHARE = 0.2
PHASES = ("warmup", "steady")
# Counters the phase figures are made of (each a per-VM int64 array in engine.metrics).
PHASE_COUNTERS = ("references", "major_faults", "stall_ns", "gating_delay_ns", "swap_in_pages")


def split_ns(scenario: Scenario, share: float = WARMUP_SHARE) -> int:
    """The simulated time at which warm-up ends: `share` of the scenario's duration."""
    if not 0.0 <= share < 1.0:
        raise ValueError(f"the warm-up share must be in [0, 1), got {share}")
    return int(scenario.duration_ms * 1e6 * share)


def _counters_at(sim: Simulation, at_ns: int) -> dict[str, np.ndarray]:
    """Run `sim` to the first boundary ≥ at_ns (or its end); the PHASE_COUNTERS there."""
    sim.run(until=at_ns)
    taken = {n: getattr(sim.counters, n).copy() for n in PHASE_COUNTERS}
    taken["split_ns"] = np.array([min(sim.now_ns, max(at_ns, 0))])
    return taken


_BASELINE: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def baseline_split(scenario: Scenario, at_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """(per-VM references at the split, at the end) with unlimited memory: the denominators of
    each phase's slowdown. Cached like engine.simulator.baseline_references (the policy and
    the recording cannot change it)."""
    same_for_all = {k: v for k, v in scenario.to_dict().items() if k not in ("policy", "recording")}
    key = json.dumps([same_for_all, at_ns], sort_keys=True)
    if key not in _BASELINE:
        sim = Simulation(scenario, {"name": "demand"}, record=False, unlimited_memory=True)
        at = _counters_at(sim, at_ns)["references"]
        sim.run()
        if len(_BASELINE) > 32:
            _BASELINE.clear()
        _BASELINE[key] = (at, sim.counters.references.copy())
    return _BASELINE[key]


@dataclass
class PhasedRun:
    """A finished run, the policy that ran it, and its summary's warm-up/steady figures."""

    result: RunResult
    policy_stats: dict[str, Any]
    split_ns: int
    phases: dict[str, float]


def phase_figures(
    at: dict[str, np.ndarray], end: dict[str, np.ndarray], base_at: float, base_end: float
) -> dict[str, float]:
    """`warmup_X` and `steady_X` for lost time and stall (ms), major faults and slowdown."""
    out: dict[str, float] = {}
    for phase in PHASES:
        c = {
            n: float(at[n].sum()) if phase == "warmup" else float((end[n] - at[n]).sum())
            for n in PHASE_COUNTERS
        }
        base = base_at if phase == "warmup" else base_end - base_at
        out[f"{phase}_lost_time_ms"] = lost_time_ns(c) / 1e6
        out[f"{phase}_stall_ms"] = c["stall_ns"] / 1e6
        out[f"{phase}_major_faults"] = c["major_faults"]
        out[f"{phase}_swap_in_pages"] = c["swap_in_pages"]
        out[f"{phase}_slowdown"] = round(base / c["references"], 6) if c["references"] else 0.0
    return out


def run_phased(scenario: Scenario, cfg: dict[str, Any], share: float = WARMUP_SHARE) -> PhasedRun:
    """Run `scenario` under policy `cfg` to its end, with its warm-up and steady-state figures."""
    at_ns = split_ns(scenario, share)
    base_at, base_end = baseline_split(scenario, at_ns)
    sim = Simulation(scenario, cfg, record=False)
    at = _counters_at(sim, at_ns)
    split_at = int(at.pop("split_ns")[0])
    result = sim.run(baseline_refs=base_end)
    end = {n: getattr(sim.counters, n) for n in PHASE_COUNTERS}
    phases = phase_figures(at, end, float(base_at.sum()), float(base_end.sum()))
    stats = dict(getattr(sim.policy, "stats", {}) or {})
    return PhasedRun(result, stats, split_at, phases)
