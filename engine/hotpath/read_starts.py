"""When the oracle's prefetch reads can start and land within a step (compiled): the answers
of `PrefetchReads.start_times`, `landing` and `first_few` from one snapshot of the device
(each stream's next free time, one read's service time), with no Python per read.

The reads go to the stream free soonest, one after another: the sequence of start times is
the sequence of minima of the streams' free times (each replaced by itself plus a read's
service), whatever structure keeps them, so a short sorted array gives heapq's answer."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def start_times(
    free_ns: np.ndarray, service_ns: int, n_ops: int, step_end_ns: int, far: int
) -> np.ndarray:
    """When each of the next n_ops reads starts, streams free at free_ns (any order), each
    read taking service_ns; a read that cannot start before step_end_ns starts never (far)."""
    free = np.sort(free_ns)
    starts = np.full(max(0, n_ops), far, dtype=np.int64)
    for i in range(n_ops):
        t = free[0]
        if t >= step_end_ns:
            break
        starts[i] = t
        nxt = t + service_ns  # back in sorted place (the streams are few)
        j = 1
        while j < free.size and free[j] < nxt:
            free[j - 1] = free[j]
            j += 1
        free[j - 1] = nxt
    return starts


@njit(cache=True, nogil=True)
def count_startable(
    free_ns: np.ndarray, service_ns: int, n_ops: int, step_end_ns: int, far: int
) -> int:
    """How many of the next n_ops reads can start within the step."""
    return int(np.count_nonzero(start_times(free_ns, service_ns, n_ops, step_end_ns, far) < far))


@njit(cache=True, nogil=True)
def landing(
    n_pages: int, batch: int, free_ns: np.ndarray, service_ns: int, step_ns: int,
    step_end_ns: int, far: int,
) -> np.ndarray:  # fmt: skip
    """When each of the next n_pages prefetched pages (batch per read, in issue order)
    lands: its read's start plus its service plus a step (far: it cannot start this step)."""
    starts = start_times(free_ns, service_ns, -(-n_pages // batch), step_end_ns, far)
    out = np.empty(n_pages, dtype=np.int64)
    for i in range(n_pages):
        s = starts[i // batch]
        out[i] = far if s >= far else s + service_ns + step_ns
    return out


@njit(cache=True, nogil=True)
def first_few(
    pages: np.ndarray, uses: np.ndarray, batch: int, free_ns: np.ndarray, service_ns: int,
    step_end_ns: int, far: int,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """`PrefetchReads.first_few`: of the pages wanted, those whose use is no later than the
    last use the reads that can start within the step carry (all when they carry every
    page, or when a use is far: a far use is never late)."""
    n_reads = -(-pages.size // batch)
    startable = batch * count_startable(free_ns, service_ns, n_reads, step_end_ns, far)
    if startable >= pages.size or uses.max() >= far:
        return pages, uses
    if startable == 0:
        return pages[:0], uses[:0]
    last = np.sort(uses)[startable - 1]
    keep = uses <= last
    return pages[keep], uses[keep]
