"""Each VM's next planned start, compiled (engine.hotpath.next_start): the starts of the numpy
statement of the rule (`PlannedStarts.next_starts_reference`), call by call in real runs of
predictive and the schedule oracle, and on plans made by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine import load_scenario, simulate
from engine.hotpath.next_start import next_planned_starts
from engine.policies.planned_starts import NEVER, PlannedStarts
from engine.scenario.overrides import with_overrides

ROOT = Path(__file__).resolve().parents[2]


def test_runs_read_the_plan_as_the_numpy_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled = PlannedStarts.next_starts
    calls = {"all": 0, "running": 0, "none planned": 0}

    def both(self: PlannedStarts, now_ns: int) -> np.ndarray:
        expected = self.next_starts_reference(now_ns)
        got = compiled(self, now_ns)
        assert np.array_equal(got, expected), now_ns
        calls["all"] += 1
        calls["running"] += bool((self.running_vcpus > 0).any())
        calls["none planned"] += bool((got == NEVER).any())
        return got

    monkeypatch.setattr(PlannedStarts, "next_starts", both)
    for name in ("nvme_8vm_2x", "patent_demo"):
        scenario = with_overrides(
            load_scenario(ROOT / "scenarios" / f"{name}.toml"), ["duration_ms=200"]
        )
        for policy in ("predictive", "schedule-oracle"):
            simulate(scenario, policy, record=False)
    assert calls["all"] > 200 and calls["running"] > 100 and calls["none planned"] > 0, calls


@pytest.mark.parametrize("interpreted", [False, True])
def test_a_running_vm_counts_only_slices_from_its_running_ones_end(interpreted: bool) -> None:
    """VM 0 runs until 1,000 (tolerance 100): its slice at 850 is its current one, not its
    next; at 950 it is. VM 1, idle, takes its earliest, moved up to now; VM 2 is planned only
    past the horizon; vCPUs 2 and 3 are both VM 1's."""
    kernel = next_planned_starts.py_func if interpreted else next_planned_starts
    vcpu_vm = np.array([0, 2, 1, 1], dtype=np.int64)
    plan_vcpu = np.array([0, 0, 2, 3, 1], dtype=np.int64)
    plan_start = np.array([850, 950, 300, 200, 9_000], dtype=np.int64)
    running = np.array([1, 0, 0], dtype=np.int64)
    run_until = np.array([1_000, 0, 0], dtype=np.int64)
    out = np.full(3, -7, dtype=np.int64)
    kernel(plan_vcpu, plan_start, vcpu_vm, running, run_until, 100, 250, 5_000, NEVER, out)
    assert out.tolist() == [950, 250, NEVER]
