"""The schedule oracle's next-period sets moved on with the streams
(engine.hotpath.period_sets): the set of `next_period_mask_reference`, rebuilt afresh, at every
call in real runs (one vCPU per VM, and several), and a window's every kind of move."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine import load_scenario, simulate
from engine.hotpath.period_sets import slide_window
from engine.policies.schedule_oracle import ScheduleOracle
from engine.scenario.overrides import with_overrides

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["nvme_8vm_2x", "real_programs"])
def test_kept_sets_are_the_rebuilt_ones_at_every_call(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    kept = ScheduleOracle.next_period_mask
    seen = {"calls": 0, "several vcpus": 0}

    def both(self: ScheduleOracle, vm: int) -> np.ndarray:
        mask = kept(self, vm)
        assert np.array_equal(mask, self.next_period_mask_reference(vm)), (vm, self._spans(vm))
        seen["calls"] += 1
        seen["several vcpus"] += len(self.vm_vcpus[vm]) > 1
        return mask

    monkeypatch.setattr(ScheduleOracle, "next_period_mask", both)
    scenario = load_scenario(ROOT / "scenarios" / f"{name}.toml")
    simulate(with_overrides(scenario, ["duration_ms=300"]), "schedule-oracle", record=False)
    assert seen["calls"] > 100, seen
    if name == "real_programs":
        assert seen["several vcpus"] > 0, seen


def test_a_window_moves_on_shrinks_jumps_and_ends_short() -> None:
    """Two windows over one VM's 10 pages: counts stay the multiset of both windows' pages,
    the mask their union, through every move a window makes."""
    stream = np.array([1, 2, 3, 2, 5, 6, 1, 7, 8, 9, 0, 4], dtype=np.int64)
    other = np.array([3, 3, 9], dtype=np.int64)
    counts = np.zeros(10, dtype=np.int32)
    mask = np.zeros(10, dtype=bool)
    ring, window = np.zeros(6, dtype=np.int64), np.zeros(3, dtype=np.int64)
    ring2, window2 = np.zeros(3, dtype=np.int64), np.zeros(3, dtype=np.int64)
    slide_window(counts, mask, ring2, window2, 0, other)

    def check(pos: int, n: int) -> None:
        refs = stream[pos : pos + n]  # (shorter at the stream's end)
        slide_window(counts, mask, ring, window, pos, refs)
        both = np.concatenate([refs, other])
        assert counts.tolist() == np.bincount(both, minlength=10).tolist(), (pos, n)
        assert mask.tolist() == (counts > 0).tolist()
        assert window[1:].tolist() == [pos, refs.size]

    check(0, 4)  # the first window
    check(2, 4)  # moved on, longer: two leave, two join (the ring wraps)
    check(3, 2)  # moved on, shorter: its end leaves too
    check(3, 6)  # longer in place
    check(10, 5)  # past its end: every reference leaves; the stream ends after two
    check(11, 1)
    slide_window(counts, mask, ring2, window2, 5, other[:0])  # the other window empties
    assert counts.tolist() == np.bincount(stream[11:12], minlength=10).tolist()
