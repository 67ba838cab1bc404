"""Leap's fault read (engine.policies.leap) as the compiled executor makes it: on a major fault
the VM's majority trend of recent fault deltas decides which pages come along, with no return
to Python per fault (engine.hotpath.row_fault reads them).

A VM's Leap state is one int64 row (the columns below), so that Python's reference model
(`LeapPrefetcher.fault_prefetch`) and this kernel work on the same figures: a fault either of
them handles leaves the row as the other expects it. The pages chosen and their order are
exactly the reference model's (tests/unit/test_leap.py compares them fault by fault).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.hotpath.oldest import bit_length
from engine.hotpath.row_config import C_FIRST_WINDOW, C_MAX_WINDOW

# Columns of a VM's row: faults recorded, the last faulting page (-1: none yet), the window
# (pages read along at the last fault), the prefetch hits counted at the last fault, then the
# ring of the last `history` fault deltas (the delta of fault k at T_DELTAS + k % history).
T_COUNT = 0
T_LAST = 1
T_WINDOW = 2
T_HITS_SEEN = 3
T_DELTAS = 4


def trend_rows(n_vms: int, history: int) -> np.ndarray:
    """Every VM's row before its first fault."""
    rows = np.zeros((n_vms, T_DELTAS + history), dtype=np.int64)
    rows[:, T_LAST] = -1
    return rows


@njit(cache=True, nogil=True)
def newest_majority(row: np.ndarray, w: int) -> tuple[bool, int]:
    """Boyer-Moore vote over the newest w recorded deltas, oldest first: (whether a value
    holds more than half of them, that value)."""
    history = row.size - T_DELTAS
    first = row[T_COUNT] - w  # the oldest of them, as a fault number
    candidate, votes = 0, 0
    for i in range(w):
        d = row[T_DELTAS + (first + i) % history]
        if votes == 0:
            candidate, votes = d, 1
        elif d == candidate:
            votes += 1
        else:
            votes -= 1
    if votes == 0:
        return False, 0
    held = 0
    for i in range(w):
        held += row[T_DELTAS + (first + i) % history] == candidate
    return 2 * held > w, candidate


@njit(cache=True, nogil=True)
def row_trend(row: np.ndarray, first_window: int) -> tuple[bool, int]:
    """Leap's FindTrend on the row: a majority among the newest first_window deltas, then
    twice as many, until every recorded delta has voted."""
    size = min(row[T_COUNT], row.size - T_DELTAS)
    if size == 0:
        return False, 0
    w = max(1, min(first_window, size))
    while True:
        found, trend = newest_majority(row, w)
        if found or w >= size:
            return found, trend
        w = min(size, 2 * w)


@njit(cache=True, nogil=True)
def trend_pages(
    row: np.ndarray, config: np.ndarray, page: int, used: int, vm_lo: int, out: np.ndarray
) -> int:
    """`LeapPrefetcher.fault_prefetch` on the row: records the fault, and writes the pages
    Leap asks for into out (at least config[C_MAX_WINDOW] long); returns how many. `used`:
    the VM's prefetched pages used so far (its counter as Python would read it now)."""
    history = row.size - T_DELTAS
    last = row[T_LAST]
    row[T_LAST] = page
    if last >= 0:
        row[T_DELTAS + row[T_COUNT] % history] = page - last
        row[T_COUNT] += 1
    found, trend = row_trend(row, config[C_FIRST_WINDOW])
    hits = used - row[T_HITS_SEEN]  # prefetch hits since the last fault size the window
    row[T_HITS_SEEN] = used
    if hits == 0:
        size = 1 if found and last >= 0 and page - last == trend else 0
    else:
        size = 1 << bit_length(hits)
    size = max(min(size, config[C_MAX_WINDOW]), row[T_WINDOW] // 2)
    row[T_WINDOW] = size
    if size == 0:
        return 0
    if found and trend != 0:
        for i in range(size):
            out[i] = page + trend * (i + 1)
    else:  # no trend: the aligned block around the fault
        lo = vm_lo + (page - vm_lo) // size * size
        for i in range(size):
            out[i] = lo + i
    return size
