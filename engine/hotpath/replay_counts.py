"""The textbook replays' fault counts (engine.replay), compiled: one pass over the stream per
frame count, with arrays indexed by dense page ids where the Python counters use dicts.

engine.replay keeps its Python counters as the readable reference; these count exactly the
same faults (tests/unit/test_replay_counts.py compares the two on random streams, and
tests/unit/test_libcachesim_agreement.py compares these with libCacheSim). A stream arrives
as dense ids 0..n_ids-1 (`np.unique(..., return_inverse=True)`: any page numbers map onto
arrays as large as the distinct pages), and `frames` is at most the stream's length (the
caller's cut: more frames than references never evict), so no array outgrows the stream.
`lru_stack_distances` gives LRU's faults at every frame count at once (engine.mrc).

benchmarks/replay_speed.py, the first million references of the captured gzip trace at eight
frame counts: 14-20 times the Python counters' speed, 2-4 times libCacheSim's.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.hotpath.max_heap import pop, push


@njit(cache=True, nogil=True)
def fifo_faults(ids: np.ndarray, n_ids: int, frames: int) -> int:
    """FIFO: a page is resident exactly when it was among the last `frames` pages loaded,
    so the load counter at each page's last load decides hit or miss."""
    loaded_at = np.full(n_ids, -frames - 1, dtype=np.int64)
    loads = 0
    for i in range(ids.size):
        page = ids[i]
        if loaded_at[page] < loads - frames:
            loaded_at[page] = loads
            loads += 1
    return loads


@njit(cache=True, nogil=True)
def lru_faults(ids: np.ndarray, n_ids: int, frames: int) -> int:
    """LRU: the resident pages in a doubly linked list, most recent first; the last goes."""
    newer = np.full(n_ids, -1, dtype=np.int64)  # toward the most recent
    older = np.full(n_ids, -1, dtype=np.int64)  # toward the least recent
    resident = np.zeros(n_ids, dtype=np.bool_)
    head = -1  # most recently used
    tail = -1  # least recently used
    count = 0
    faults = 0
    for i in range(ids.size):
        page = ids[i]
        if resident[page]:
            if page == head:
                continue
            # Out of its place (it has a newer page: it is not the head) ...
            up, down = newer[page], older[page]
            older[up] = down
            if down >= 0:
                newer[down] = up
            else:
                tail = up
        else:
            faults += 1
            if count >= frames:
                victim = tail
                tail = newer[victim]
                if tail >= 0:
                    older[tail] = -1
                else:  # (one frame: the victim was the only page)
                    head = -1
                resident[victim] = False
                count -= 1
            resident[page] = True
            count += 1
            if tail < 0:
                tail = page
        # ... to the front.
        newer[page] = -1
        older[page] = head
        if head >= 0 and head != page:
            newer[head] = page
        head = page
    return faults


@njit(cache=True, nogil=True)
def clock_faults(ids: np.ndarray, n_ids: int, frames: int) -> int:
    """Second chance (engine.replay's `clock`): frames in a circle, one hand; a hit sets the
    page's bit, a loaded page's bit is clear; a miss with every frame full sweeps from the
    hand, clearing set bits, and replaces the first page whose bit is clear."""
    slot_of = np.full(n_ids, -1, dtype=np.int64)
    slots = np.empty(frames, dtype=np.int64)
    ref_bit = np.zeros(frames, dtype=np.bool_)
    filled = 0
    hand = 0
    faults = 0
    for i in range(ids.size):
        page = ids[i]
        slot = slot_of[page]
        if slot >= 0:
            ref_bit[slot] = True
            continue
        faults += 1
        if filled < frames:
            slot_of[page] = filled
            slots[filled] = page
            ref_bit[filled] = False
            filled += 1
            continue
        while ref_bit[hand]:
            ref_bit[hand] = False
            hand = hand + 1 if hand + 1 < frames else 0
        slot_of[slots[hand]] = -1
        slots[hand] = page
        slot_of[page] = hand
        hand = hand + 1 if hand + 1 < frames else 0
    return faults


@njit(cache=True, nogil=True)
def opt_faults(ids: np.ndarray, n_ids: int, frames: int, priority: np.ndarray) -> int:
    """Belady's MIN, as engine.replay's `opt`: each resident page's priority is the position
    of its next use, or 2n - (position of its last use) when it is never used again (unique,
    and above every position); the largest goes. The heap keeps every priority pushed; an
    entry is stale once its page was referenced again or evicted, and is skipped."""
    n = ids.size
    current = np.full(n_ids, -1, dtype=np.int64)  # the resident page's priority; -1: out
    heap = np.empty(n, dtype=np.int64)
    size = 0
    count = 0
    faults = 0
    for i in range(n):
        page = ids[i]
        if current[page] < 0:
            faults += 1
            if count >= frames:
                while True:
                    top = pop(heap, size)
                    size -= 1
                    victim = ids[top] if top < n else ids[2 * n - top]
                    if current[victim] == top:
                        current[victim] = -1
                        count -= 1
                        break
            count += 1
        current[page] = priority[i]
        push(heap, size, priority[i])
        size += 1
    return faults


@njit(cache=True, nogil=True)
def _add(tree: np.ndarray, position: int, value: int) -> None:
    """Add value at position (0-based) of the Fenwick tree `tree` (1-based, size n + 1)."""
    i = position + 1
    while i < tree.size:
        tree[i] += value
        i += i & -i


@njit(cache=True, nogil=True)
def _prefix(tree: np.ndarray, end: int) -> int:
    """The sum of positions 0..end-1 of the Fenwick tree."""
    total = 0
    i = end
    while i > 0:
        total += tree[i]
        i -= i & -i
    return total


@njit(cache=True, nogil=True)
def lru_stack_distances(ids: np.ndarray, n_ids: int) -> np.ndarray:
    """The LRU stack distance of every reference: the distinct other pages referenced since
    its page's last use (-1: its first use). Each page's latest use is marked in a Fenwick
    tree over the positions; the marks strictly between a page's last use and now are those
    pages (Bennett and Kruskal's counting of Mattson's distances, O(n log n))."""
    n = ids.size
    tree = np.zeros(n + 1, dtype=np.int64)
    last = np.full(n_ids, -1, dtype=np.int64)
    out = np.full(n, -1, dtype=np.int64)
    for t in range(n):
        page = ids[t]
        s = last[page]
        if s >= 0:
            out[t] = _prefix(tree, t) - _prefix(tree, s + 1)
            _add(tree, s, -1)
        _add(tree, t, 1)
        last[page] = t
    return out
