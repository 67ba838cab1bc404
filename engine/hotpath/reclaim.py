"""Reclaim in the compiled hot path: victims taken from a kept list of the oldest pages, and
eviction (clean pages dropped, dirty ones given a swap slot and a write, grouped by VM).

`evict_pages` is `engine.paging.PagingServices.evict` over the pool's arrays, used by every
eviction; `direct_reclaim` is the executor's reclaim for a fault with no free frame, done inside
the per-reference kernel when the policy's victims are a plain LRU or FIFO order.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.hotpath.device_time import start_write
from engine.hotpath.slots import (
    GO_ON,
    NEEDS_PYTHON,
    OP_DONE,
    OP_HI,
    OP_ISSUE,
    OP_LANE,
    OP_LO,
    OP_SEQ,
    OP_START,
    OP_VM,
    R_BATCH,
    R_BEFORE_NS,
    R_COUNT_RESCUES,
    R_ENABLED,
    R_REQUEUED,
    R_WRITE_BATCH,
    R_WRITE_FAILURES,
    S_FREE_FRAMES,
    S_FREE_SLOTS,
    S_LIST_HEAD,
    S_N_OPS,
    S_OP_PAGES,
    S_RESCUES,
    S_WRITING_PENDING,
    WAIT_FOR_FRAME,
)
from engine.page_states import CLEAN, DIRTY, PREFETCHED, SWAPPED, WRITING


@njit(cache=True, nogil=True)
def direct_reclaim(
    reclaim: np.ndarray,
    kept_pages: np.ndarray,
    kept_keys: np.ndarray,
    keys_now: np.ndarray,
    vm_of: np.ndarray,
    wasted: np.ndarray,
    refused: np.ndarray,
    victims: np.ndarray,
    ops: np.ndarray,
    op_pages: np.ndarray,
    now_ns: int,
    state: np.ndarray,
    scalars: np.ndarray,
    busy_until: np.ndarray,
    device: np.ndarray,
) -> int:
    """executor.direct_reclaim's reclaim, for a plain victim order whose kept list can supply
    the victims; NEEDS_PYTHON (nothing done) otherwise. GO_ON if a frame is free after it,
    WAIT_FOR_FRAME if the faulting vCPU must wait for a write."""
    enabled, batch, write_batch = reclaim[R_ENABLED], reclaim[R_BATCH], reclaim[R_WRITE_BATCH]
    before_ns, requeued = reclaim[R_BEFORE_NS], reclaim[R_REQUEUED]
    write_failures, count_rescues = reclaim[R_WRITE_FAILURES], reclaim[R_COUNT_RESCUES]
    if not enabled or scalars[S_FREE_SLOTS] == 0:  # a full swap device: clean pages only
        return NEEDS_PYTHON
    if write_failures + (scalars[S_RESCUES] if count_rescues else 0) != requeued:
        return NEEDS_PYTHON  # pages came back with old keys: the list is remade in Python
    if scalars[S_N_OPS] + batch > ops.shape[0] or scalars[S_OP_PAGES] + batch > op_pages.size:
        return NEEDS_PYTHON  # no room to record more writes this call
    head = take_kept(
        kept_pages, kept_keys, scalars[S_LIST_HEAD], batch, before_ns, state, keys_now, victims
    )
    if head < 0:
        return NEEDS_PYTHON
    scalars[S_LIST_HEAD] = head
    freed = evict_pages(
        victims[:batch], now_ns, state, vm_of, scalars, wasted, refused,
        write_batch, True, busy_until, device, ops, op_pages,
    )  # fmt: skip
    if freed > 0 or scalars[S_FREE_FRAMES] > 0:
        return GO_ON
    return WAIT_FOR_FRAME


@njit(cache=True, nogil=True)
def take_kept(
    kept_pages: np.ndarray,
    kept_keys: np.ndarray,
    head: int,
    n: int,
    before_ns: int,
    state: np.ndarray,
    keys_now: np.ndarray,
    out: np.ndarray,
) -> int:
    """victims.Oldest._take over its kept list from head: the first n kept pages still
    evictable with unchanged keys, the last of them older than before_ns, written to out.
    Returns the new head (one past the last taken), or -1 when the list cannot supply them
    (then Python remakes the list)."""
    found = 0
    i = head
    while i < kept_pages.size and found < n:
        page = kept_pages[i]
        u = np.uint64(page)  # an unsigned index: no wraparound of negative indices (kernels)
        s = state[u]
        if s >= CLEAN and s <= PREFETCHED and keys_now[u] == kept_keys[i]:
            out[np.uint64(found)] = page
            found += 1
        i += 1
    if found < n or kept_keys[i - 1] >= before_ns:
        return -1
    return i


@njit(cache=True, nogil=True)
def evict_pages(
    victims: np.ndarray,
    now_ns: int,
    state: np.ndarray,
    vm_of: np.ndarray,
    scalars: np.ndarray,
    wasted: np.ndarray,
    refused: np.ndarray,
    write_batch: int,
    start_now: bool,
    busy_until: np.ndarray,
    device: np.ndarray,
    ops: np.ndarray,
    op_pages: np.ndarray,
) -> int:
    """PagingServices.evict of distinct pages: those not evictable are skipped; clean ones are
    dropped, dirty ones (as many as free swap slots allow, in the order given) are written,
    one write per VM and write_batch pages, in page order. The writes are recorded in ops
    (pages in op_pages) for Python to put on the device; with start_now they are started
    here, on the lane free earliest (no injected faults). Returns frames freed."""
    freed = 0
    n_dirty = 0
    dirty = np.empty(victims.size, dtype=np.int64)
    for i in range(victims.size):
        page = victims[i]
        u = np.uint64(page)  # an unsigned index: no wraparound of negative indices (kernels)
        s = state[u]
        if s < CLEAN or s > PREFETCHED:
            continue
        if s == DIRTY:
            if n_dirty < scalars[S_FREE_SLOTS]:
                dirty[n_dirty] = page
                n_dirty += 1
            else:
                refused[vm_of[u]] += 1  # no free slot: it stays resident, not lost
        else:
            if s == PREFETCHED:
                wasted[vm_of[u]] += 1
            state[u] = SWAPPED
            freed += 1
    scalars[S_FREE_FRAMES] += freed
    if n_dirty == 0:
        return freed
    written = np.sort(dirty[:n_dirty])
    scalars[S_FREE_SLOTS] -= n_dirty
    scalars[S_WRITING_PENDING] += n_dirty
    base = scalars[S_OP_PAGES]
    for i in range(n_dirty):
        state[written[i]] = WRITING
        op_pages[base + i] = written[i]
    group = 0
    while group < n_dirty:
        end = group
        while end < n_dirty and vm_of[written[end]] == vm_of[written[group]]:
            end += 1
        for lo in range(group, end, write_batch):
            hi = min(lo + write_batch, end)
            row = scalars[S_N_OPS]
            ops[row, OP_VM] = vm_of[written[lo]]
            ops[row, OP_ISSUE] = now_ns
            ops[row, OP_LO] = base + lo
            ops[row, OP_HI] = base + hi
            if start_now:
                lane, start, done, seq = start_write(
                    op_pages, base + lo, base + hi, now_ns, busy_until, device
                )
                ops[row, OP_LANE] = lane
                ops[row, OP_START] = start
                ops[row, OP_DONE] = done
                ops[row, OP_SEQ] = seq
            scalars[S_N_OPS] += 1
        group = end
    scalars[S_OP_PAGES] += n_dirty
    return freed


@njit(cache=True, nogil=True)
def finish_writes(
    pages: np.ndarray,
    ends: np.ndarray,
    vms: np.ndarray,
    state: np.ndarray,
    swap_out: np.ndarray,
) -> int:
    """PagePool.finish_write of successful writes, in order: write i holds
    pages[ends[i - 1]:ends[i]] of VM vms[i]; its pages still WRITING become SWAPPED and count
    as swapped out (a page rescued meanwhile is DIRTY and keeps its frame). Returns the frames
    freed, which are also the pages that were still being written."""
    freed = 0
    lo = 0
    for i in range(ends.size):
        hi = ends[i]
        n = 0
        for j in range(lo, hi):
            if state[pages[j]] == WRITING:
                state[pages[j]] = SWAPPED
                n += 1
        swap_out[vms[i]] += n
        freed += n
        lo = hi
    return freed


@njit(cache=True, nogil=True)
def reclaim_kept(
    kept_pages: np.ndarray,
    kept_keys: np.ndarray,
    before_ns: int,
    n: int,
    now_ns: int,
    state: np.ndarray,
    keys_now: np.ndarray,
    vm_of: np.ndarray,
    scalars: np.ndarray,
    wasted: np.ndarray,
    refused: np.ndarray,
    write_batch: int,
    ops: np.ndarray,
    op_pages: np.ndarray,
) -> int:
    """PagingServices.reclaim of n victims from a kept list of the oldest pages (victims.Oldest
    taking them, then evict_pages), in one call: a reclaim at every step boundary otherwise
    costs a dozen numpy calls of Python. The writes are recorded in ops, not started. Returns
    the list's new head, or -1 (nothing done) when the list cannot supply the n victims."""
    victims = np.empty(n, dtype=np.int64)
    head = take_kept(kept_pages, kept_keys, 0, n, before_ns, state, keys_now, victims)
    if head < 0:
        return -1
    no_lanes = np.zeros(0, dtype=np.int64)
    evict_pages(
        victims, now_ns, state, vm_of, scalars, wasted, refused,
        write_batch, False, no_lanes, no_lanes, ops, op_pages,
    )  # fmt: skip
    return head
