"""The schedule oracle's next-period sets kept up to date as the streams move, compiled: each
vCPU's window of coming references is held in a ring and counted per page of its VM, so a
window that moved on costs only the references that left it and those that joined it.

Rebuilding a VM's set afresh marked every reference of the window (up to a slice's worth,
~150,000 on nvme_8vm_2x) at each move of its stream: ~2,500 rebuilds a run at ~245 µs. The
set is the same either way (`ScheduleOracle.next_period_mask_reference` rebuilds it, and the
tests compare the two at every call)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def slide_window(
    counts: np.ndarray, mask: np.ndarray, ring: np.ndarray, window: np.ndarray, pos: int,
    refs: np.ndarray,
) -> None:  # fmt: skip
    """Move one vCPU's window to the references `refs` from stream position pos (its VM's
    pages; fewer than wanted where the stream ends). window = [head, start, length]: the
    references [start, start + length) are ring[head], ring[head + 1], ... (circularly;
    the ring holds at least refs.size). counts (per page of the VM, over all its vCPUs'
    windows) and mask (counts > 0) follow every reference that leaves or joins."""
    cap = ring.size
    head, start, length = window[0], window[1], window[2]
    end = start + length
    if pos < start or pos >= end:  # nothing kept: every reference leaves
        _leave(counts, mask, ring, head, length)
        head, start, length, end = 0, pos, 0, pos
    else:  # those before pos leave
        _leave(counts, mask, ring, head, pos - start)
        head = (head + pos - start) % cap
        length -= pos - start
        start = pos
    new_end = pos + refs.size
    if new_end < end:  # the window got shorter: its last references leave
        _leave(counts, mask, ring, (head + new_end - start) % cap, end - new_end)
        length = new_end - start
    for j in range(end - pos, refs.size):  # the references that join it
        r = refs[j]
        ring[(head + length) % cap] = r
        length += 1
        counts[r] += 1
        if counts[r] == 1:
            mask[r] = True
    window[0], window[1], window[2] = head, start, length


@njit(cache=True, nogil=True)
def _leave(counts: np.ndarray, mask: np.ndarray, ring: np.ndarray, at: int, n: int) -> None:
    """The n references from ring[at] (circularly) leave their window."""
    cap = ring.size
    for i in range(n):
        r = ring[(at + i) % cap]
        counts[r] -= 1
        if counts[r] == 0:
            mask[r] = False
