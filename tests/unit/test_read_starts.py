"""When the oracle's prefetch reads start and land (compiled): the answers of the per-read
heap, the landing formula and the sort-then-cut they replace."""

from __future__ import annotations

import heapq

import numpy as np
import pytest

from engine.hotpath.read_starts import count_startable, first_few, landing, start_times

FAR = 1 << 61


def _heap_starts(free: list[int], service: int, n_ops: int, step_end: int) -> np.ndarray:
    """The per-read heap the oracle used: each read on the stream free soonest."""
    free = sorted(free)
    out = np.full(n_ops, FAR, dtype=np.int64)
    for i in range(n_ops):
        t = free[0]
        if t >= step_end:
            break
        out[i] = t
        heapq.heapreplace(free, t + service)
    return out


@pytest.mark.parametrize("seed", range(8))
def test_start_times_are_the_heaps(seed: int) -> None:
    """Every read's start time, and how many start within the step, are the heap's."""
    rng = np.random.default_rng(seed)
    free = rng.integers(0, 4_000_000, size=int(rng.integers(1, 6))).tolist()
    service, end = int(rng.integers(1, 900_000)), int(rng.integers(0, 6_000_000))
    for n_ops in (0, 1, 7, 40):
        want = _heap_starts(free, service, n_ops, end)
        got = start_times(np.array(free, dtype=np.int64), service, n_ops, end, FAR)
        np.testing.assert_array_equal(got, want)
        assert count_startable(np.array(free), service, n_ops, end, FAR) == (want < FAR).sum()


@pytest.mark.parametrize("seed", range(8))
def test_landing_and_first_few_are_the_numpy_formulas(seed: int) -> None:
    """A page lands a read's service and a step after its read starts (FAR: no start this
    step); first_few keeps the pages used no later than the last use the startable reads
    carry, all of them when those carry every page or a use is FAR."""
    rng = np.random.default_rng(seed)
    batch = int(rng.integers(1, 9))
    free = np.sort(rng.integers(0, 2_000_000, size=3)).astype(np.int64)
    service, step_ns, end = int(rng.integers(1, 700_000)), 1_000_000, 2_500_000
    n_pages = int(rng.integers(0, 60))
    starts = _heap_starts(free.tolist(), service, -(-n_pages // batch), end)
    op = np.arange(n_pages) // batch
    want_land = np.where(starts[op] >= FAR, FAR, starts[op] + service + step_ns)
    np.testing.assert_array_equal(
        landing(n_pages, batch, free, service, step_ns, end, FAR), want_land
    )
    pages = rng.permutation(10_000)[:n_pages].astype(np.int64)
    uses = rng.integers(0, 50, size=n_pages).astype(np.int64)
    if seed == 3 and n_pages:
        uses[0] = FAR
    startable = batch * int((starts < FAR).sum())
    if startable >= n_pages or (n_pages and uses.max() >= FAR):
        keep = np.ones(n_pages, dtype=bool)
    elif startable == 0:
        keep = np.zeros(n_pages, dtype=bool)
    else:
        keep = uses <= np.partition(uses, startable - 1)[startable - 1]
    got_pages, got_uses = first_few(pages, uses, batch, free, service, end, FAR)
    np.testing.assert_array_equal(got_pages, pages[keep])
    np.testing.assert_array_equal(got_uses, uses[keep])
