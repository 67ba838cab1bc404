"""Whether a vCPU's use time strictly grows with the position: as every position shows."""

from __future__ import annotations

import numpy as np
import pytest

from engine.hotpath.next_use import use_times
from engine.hotpath.strict_order import grows_strictly

FAR = 1 << 61


@pytest.mark.parametrize("seed", range(10))
def test_the_answer_is_that_of_timing_every_position(seed: int) -> None:
    """Over plans with gaps, touching segments (a segment starting just as the last one's
    last reference falls), overlaps, empty segments and none, the answer is whether the
    times of positions 0 to past the plan strictly grow."""
    rng = np.random.default_rng(seed)
    n_segments = int(rng.integers(0, 5))
    cpu = int(rng.integers(1, 20))
    caps = rng.integers(0, 40, size=n_segments)
    starts = np.sort(rng.integers(0, 3_000, size=n_segments)).astype(np.int64)
    for j in range(1, n_segments):
        kind = rng.integers(0, 3)
        if kind == 0:  # touching: the first reference at the time the last one ended
            starts[j] = starts[j - 1] + (caps[j - 1] - 1) * cpu
        elif kind == 1:  # one reference later: strictly after
            starts[j] = starts[j - 1] + caps[j - 1] * cpu
    cum = np.cumsum(caps).astype(np.int64)
    k = np.arange(int(cum[-1]) + 30 if n_segments else 30, dtype=np.int64)
    times = use_times(k, starts, cum, cpu, 1.5, 5_000, FAR)
    assert grows_strictly(starts, cum, cpu, 1.5, 5_000) == bool(np.all(np.diff(times) > 0))


def test_a_segment_that_starts_at_the_last_ones_last_use_is_not_strict() -> None:
    """Two positions at one time (1,090 ns here) make the growth not strict."""
    starts = np.array([1_000, 1_090], dtype=np.int64)
    cum = np.array([10, 20], dtype=np.int64)
    assert not grows_strictly(starts, cum, 10, 1.0, 0)
    assert grows_strictly(starts + np.array([0, 1]), cum, 10, 1.0, 0)
