"""The shadow LRU's step in one compiled call (engine.policies.ghost_lru): the pages touched
since the last step, the shadow's horizon, its misses and their readahead blocks.

`predictive` and the schedule oracle count demand paging's faults on their own references at
every step boundary, to judge whether acting on the plan pays. Stated in numpy
(`GhostLru.step`) a step is a dozen passes over the pool and a partition of the keys that
reach the last horizon: ~0.24 ms, ~1,500 times a run of nvme_8vm_2x. Here the touched pages
are collected in one pass, the horizon (the fit-th latest key, which only moves on) is
selected from the few keys nearest the last one, and each miss's block is read ahead in
place; the counts and keys are those of `GhostLru.step`."""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import leading_zeros

NEVER_TOUCHED = -1  # a page's key before its first touch (ghost_lru's)


@njit(cache=True, nogil=True)
def shadow_step(
    key_ns: np.ndarray, touch_ns: np.ndarray, since_ns: int, now_ns: int, fit: int,
    cluster: int, base: np.ndarray, vm_of: np.ndarray, faults: np.ndarray, hint: np.ndarray,
    work: np.ndarray,
) -> tuple[int, int]:  # fmt: skip
    """(the shadow's new major faults, pages touched for the first time): the pages whose
    last touch (touch_ns) is at or after since_ns were touched, last then, since the last
    step; a page touched again whose key (key_ns: its last use or readahead) is below the
    horizon missed, and each block of `cluster` pages (within its VM, aligned to the VM's
    first page) with a miss is one fault of its VM (faults, per VM) that reads the block's
    touched pages in at now_ns. hint = [the last horizon, how far it moved then]: where the
    search starts (updated; the horizon itself does not depend on it). `work`: two rows of
    scratch as long as the pool."""
    pages = work[0]
    n = 0
    for p in range(touch_ns.size):
        if touch_ns[p] >= since_ns:
            pages[n] = p
            n += 1
    if n == 0:
        return 0, 0
    horizon = fit_th_latest(key_ns, fit, hint, work[1])
    blocks = work[1]  # (the horizon's scratch, read)
    n_blocks = 0
    first_touches = 0
    for i in range(n):
        p = pages[i]
        before = key_ns[p]
        if before == NEVER_TOUCHED:
            first_touches += 1
        elif before < horizon:
            first = base[vm_of[p]]
            block = first + (p - first) // cluster * cluster
            if n_blocks == 0 or blocks[n_blocks - 1] != block:  # pages ascend: so do blocks
                blocks[n_blocks] = block
                n_blocks += 1
        key_ns[p] = touch_ns[p]
    for j in range(n_blocks):
        block = blocks[j]
        vm = vm_of[block]
        for q in range(block, min(block + cluster, base[vm + 1])):
            if key_ns[q] > NEVER_TOUCHED:  # readahead brings in what is on swap only
                key_ns[q] = max(key_ns[q], now_ns)
        faults[vm] += 1
    return n_blocks, first_touches


@njit(cache=True, nogil=True)
def fit_th_latest(key_ns: np.ndarray, fit: int, hint: np.ndarray, keys: np.ndarray) -> int:
    """The fit-th latest key of the touched pages (NEVER_TOUCHED when no more than fit
    pages were touched): `GhostLru.horizon_ns`. Keys only grow, so nearly always at least fit
    keys reach the last horizon (hint[0]), and the wanted one is then the k-th least of
    those, k the few that fell out since. One pass counts them by how far past the last
    horizon they are (in powers of two) and collects those up to twice as far as the last
    call needed (hint[2]); when the k-th is farther, a second pass collects those as far as
    it is. It is selected from those. hint = [the last horizon, how far it moved then, the
    width the next call collects] is updated as horizon_ns updates the first two; `keys`:
    scratch as long as the pool."""
    last = hint[0]
    if last > NEVER_TOUCHED:
        by_width = np.zeros(64, dtype=np.int64)  # [b]: keys with bit_length(key - last) == b
        guess = hint[2]
        m = 0
        for key in key_ns:
            if key >= last:
                b = _bit_length(key - last)
                by_width[b] += 1
                if b <= guess:
                    keys[m] = key
                    m += 1
        k = by_width.sum() - fit
        if k >= 0:
            width, below = 0, 0  # the least width whose keys and those nearer number > k
            while below + by_width[width] <= k:
                below += by_width[width]
                width += 1
            hint[2] = width + 1  # (twice as far: the next call's spread may be wider)
            if width > guess:
                m = 0
                for key in key_ns:
                    if key >= last and _bit_length(key - last) <= width:
                        keys[m] = key
                        m += 1
            return _moved_to(np.partition(keys[:m], k)[k], hint)
    m = 0
    for key in key_ns:
        if key > NEVER_TOUCHED:
            keys[m] = key
            m += 1
    if m <= fit:
        return NEVER_TOUCHED
    return _moved_to(np.partition(keys[:m], m - fit)[m - fit], hint)


@njit(cache=True, nogil=True, inline="always")
def _bit_length(x: int) -> int:
    """int.bit_length of a non-negative x, by the processor's count of leading zeros."""
    # (a numba intrinsic: mypy sees its typing signature, not the call)
    return 64 - leading_zeros(np.uint64(x))  # type: ignore[call-arg]


@njit(cache=True, nogil=True)
def _moved_to(horizon: int, hint: np.ndarray) -> int:
    """Keep the new horizon and how far it moved (hint); returns it."""
    if hint[0] > NEVER_TOUCHED:
        hint[1] = horizon - hint[0]
    hint[0] = horizon
    return horizon
