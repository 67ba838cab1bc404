"""Victims ranked by the scheduler's plan, compiled: `predictive`'s (`ranked_pages`) and the
schedule oracle's (`set_ranked_pages`). Each VM's keys (its next planned start, or PROTECTED,
or both, its pages split by their touch stamps or by its next-period set) are known before any
page is looked at, so the farthest key's VMs are scanned first and their oldest pages taken,
then the next key's, until n are taken.

The same pages, in the same order, as `ScheduleVictims.ranked_victims_reference` and
`SetVictims.ranked_victims_reference`, which make them with a dozen numpy calls per VM and per
key (~0.3-0.4 ms a call in a run, ~1,500 calls on nvme_8vm_2x); the policies keep those as the
readable statements of the rules, and the tests compare them call by call."""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.hotpath.marks import marked_pages, padded_marks
from engine.hotpath.max_heap import sift_down
from engine.hotpath.oldest import bit_length
from engine.hotpath.position_cut import _candidate

# A packed (age, page) value keeps its age in the bits above the page's: exact while both fit.
PACKED_BITS = 62
# From this many pages per one wanted, the wanted are kept in a heap as the pages pass (most
# are compared with its top only) rather than partitioning them all.
HEAP_FROM = 16


@njit(cache=True, nogil=True)
def ranked_pages(
    n: int, above: int, protected: int, now_ns: int, clean_only: bool, state: np.ndarray,
    vm_base: np.ndarray, running_vcpus: np.ndarray, next_start: np.ndarray,
    run_until: np.ndarray, period_start: np.ndarray, vm_time: np.ndarray,
    touch_vns: np.ndarray, ws_vns: int, min_idle_ns: int, work: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Up to n evictable pages (clean and prefetched only if clean_only), by key, farthest
    first, only keys above `above`; within a key by age in the owner's clock, then page.

    A page's key: an idle VM's (no vCPU running), its VM's next planned start (next_start);
    a running VM's whose next slice follows within min_idle_ns of its running ones' end
    (run_until), `protected` (below every start); another running VM's, its next start if
    the page is cold (not touched in the last ws_vns of the VM's clock, or, once the VM has
    run for longer than its slice has left, not in this period), else `protected`. A page's
    age: its touch stamp (touch_vns, in its VM's clock) less its VM's clock now. `work`: three
    rows of scratch as long as the pool.

    The keys are known per VM before any page is looked at, so only the VMs of the keys
    reached are scanned (a reclaim of 32 pages usually reads one idle VM's)."""
    n_vms = vm_base.size - 1
    clock = np.empty(n_vms, dtype=np.int64)
    cold_below = np.empty(n_vms, dtype=np.int64)  # a split VM's: touched before this is cold
    split = np.zeros(n_vms, dtype=np.bool_)
    for vm in range(n_vms):
        running = running_vcpus[vm] > 0
        clock[vm] = vm_time[vm] + (now_ns - period_start[vm] if running else 0)
        split[vm] = running and next_start[vm] - run_until[vm] >= min_idle_ns
        cold_below[vm] = clock[vm] - ws_vns
        if split[vm] and now_ns - period_start[vm] >= run_until[vm] - now_ns:
            cold_below[vm] = max(cold_below[vm], vm_time[vm] + 1)  # or untouched this period
    # The keys there can be, farthest first: each VM's next start, and protected.
    distinct = np.sort(np.append(next_start, protected))[::-1]
    out = np.empty(n, dtype=np.int64)
    taken = 0
    for j in range(distinct.size):
        key = distinct[j]
        if key <= above or taken >= n:
            break
        if j > 0 and key == distinct[j - 1]:
            continue
        pages, ages = work[0], work[1]
        m = 0
        for vm in range(n_vms):
            running = running_vcpus[vm] > 0
            if key == protected and running:  # a split VM's warm pages, another's all
                cold_part, warm_part = not split[vm], True
            elif key == next_start[vm] and not running:  # an idle VM's pages
                cold_part, warm_part = True, True
            elif key == next_start[vm] and split[vm]:  # a split VM's cold pages
                cold_part, warm_part = True, False
            else:
                continue
            m = _gather(pages, ages, m, state, touch_vns, vm_base[vm], vm_base[vm + 1],
                        clean_only, cold_below[vm], cold_part, warm_part, clock[vm],
                        work[2].view(np.uint8))  # fmt: skip
        taken = _oldest(n - taken, pages, ages, m, out, taken)
    return out[:taken]


@njit(cache=True, nogil=True)
def set_ranked_pages(
    n: int, above: int, protected: int, now_ns: int, clean_only: bool, state: np.ndarray,
    vm_base: np.ndarray, running_vcpus: np.ndarray, next_start: np.ndarray,
    period_start: np.ndarray, vm_time: np.ndarray, touch_vns: np.ndarray,
    in_set: np.ndarray, work: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Up to n evictable pages (clean and prefetched only if clean_only) in the schedule
    oracle's order: first the pages in no next-period set (in_set, a flag per page of the
    pool), by their VM's next planned start, farthest first; then the pages of the sets, by
    when each set is needed (a running VM's: `protected`; another's: its next start),
    farthest first, only those needed after `above`. Within a key, by age in the owner's
    clock (touch stamp less the VM's clock now), then page. `work`: three rows of scratch as
    long as the pool."""
    n_vms = vm_base.size - 1
    clock = np.empty(n_vms, dtype=np.int64)
    needed = np.empty(n_vms, dtype=np.int64)  # when each VM's set is needed
    # Each VM's candidates out of its set, counted by a pass that vectorises: the sets
    # usually hold every resident page, and a VM with none out of its set is not scanned for
    # them.
    n_out = np.empty(n_vms, dtype=np.int64)
    for vm in range(n_vms):
        running = running_vcpus[vm] > 0
        clock[vm] = vm_time[vm] + (now_ns - period_start[vm] if running else 0)
        needed[vm] = protected if running else next_start[vm]
        lo, hi = vm_base[vm], vm_base[vm + 1]
        n_out[vm] = _count_out_of_set(state[lo:hi], in_set[lo:hi], clean_only)
    out = np.empty(n, dtype=np.int64)
    taken = 0
    for inside in (False, True):  # the pages out of every set first, then the sets'
        keys = np.sort(needed if inside else next_start)[::-1]
        for j in range(keys.size):
            key = keys[j]
            if taken >= n or (inside and key <= above):
                return out[:taken]
            if j > 0 and key == keys[j - 1]:
                continue
            pages, ages = work[0], work[1]
            m = 0
            for vm in range(n_vms):
                if (needed[vm] if inside else next_start[vm]) == key and (inside or n_out[vm]):
                    m = _gather_by_set(pages, ages, m, state, touch_vns, in_set, vm_base[vm],
                                       vm_base[vm + 1], clean_only, inside, clock[vm],
                                       work[2].view(np.uint8))  # fmt: skip
            taken = _oldest(n - taken, pages, ages, m, out, taken)
    return out[:taken]


@njit(cache=True, nogil=True)
def _count_out_of_set(state: np.ndarray, in_set: np.ndarray, clean_only: bool) -> int:
    """How many of the pages are evictable (clean and prefetched only if clean_only) and out
    of the set."""
    count = 0
    for i in range(state.size):
        count += _candidate(state[i], clean_only) & (not in_set[i])
    return count


@njit(cache=True, nogil=True)
def _gather_by_set(
    pages: np.ndarray, ages: np.ndarray, m: int, state: np.ndarray, touch_vns: np.ndarray,
    in_set: np.ndarray, lo: int, hi: int, clean_only: bool, inside: bool, clock: int,
    mark: np.ndarray,
) -> int:  # fmt: skip
    """Append the evictable pages of [lo, hi) in the set (inside) or out of it, with their
    ages (touch stamp less clock), to pages and ages at m; returns their new length. A pass
    over bytes marks them (`mark` as _gather's), and only the marked are read again."""
    size = hi - lo
    vm_mark = padded_marks(mark, size)
    st, flags = state[lo:hi], in_set[lo:hi]
    for i in range(size):
        vm_mark[i] = _candidate(st[i], clean_only) & (flags[i] == inside)
    return _take_marked(vm_mark, lo, touch_vns, clock, pages, ages, m)


@njit(cache=True, nogil=True)
def _oldest(need: int, pages: np.ndarray, ages: np.ndarray, m: int, out: np.ndarray,
            taken: int) -> int:  # fmt: skip
    """The `need` oldest of the first m pages (by age, then page) appended to out at `taken`;
    returns how many out holds now."""
    if m == 0:
        return taken
    k = min(need, m)
    age_lo, age_hi, page_hi = ages[0], ages[0], 0
    for i in range(m):
        age_lo = min(age_lo, ages[i])
        age_hi = max(age_hi, ages[i])
        page_hi = max(page_hi, pages[i])
    bits = max(1, bit_length(page_hi))
    if bit_length(age_hi - age_lo) + bits <= PACKED_BITS:
        if k * HEAP_FROM <= m:  # few of many: the k least kept in a heap as the pages pass
            packed = _least_packed(k, pages, ages, m, age_lo, bits)
        else:
            packed = np.empty(m, dtype=np.int64)
            for i in range(m):
                packed[i] = ((ages[i] - age_lo) << bits) | pages[i]
            if k < m:
                packed = np.partition(packed, k - 1)[:k]
        packed = np.sort(packed)
        mask = (np.int64(1) << bits) - 1
        for i in range(k):
            out[taken + i] = packed[i] & mask
        return taken + k
    # Ages too far apart to pack beside the page: a stable sort by age, pages ascending.
    by_page = np.argsort(pages[:m], kind="mergesort")
    by_age = by_page[np.argsort(ages[:m][by_page], kind="mergesort")]
    for i in range(k):
        out[taken + i] = pages[by_age[i]]
    return taken + k


@njit(cache=True, nogil=True)
def _least_packed(
    k: int, pages: np.ndarray, ages: np.ndarray, m: int, age_lo: int, bits: int
) -> np.ndarray:
    """The k least packed (age - age_lo, page) values of the first m pages, unordered: a
    max-heap of k, whose top each further value is compared with."""
    heap = np.empty(k, dtype=np.int64)
    for i in range(k):
        heap[i] = ((ages[i] - age_lo) << bits) | pages[i]
    for i in range(k // 2 - 1, -1, -1):
        sift_down(heap, i, k)
    for i in range(k, m):
        v = ((ages[i] - age_lo) << bits) | pages[i]
        if v < heap[0]:
            heap[0] = v
            sift_down(heap, 0, k)
    return heap


@njit(cache=True, nogil=True)
def _gather(
    pages: np.ndarray, ages: np.ndarray, m: int, state: np.ndarray, touch_vns: np.ndarray,
    lo: int, hi: int, clean_only: bool, cold_below: int, cold: bool, warm: bool, clock: int,
    mark: np.ndarray,
) -> int:  # fmt: skip
    """Append the evictable pages of [lo, hi) that are cold (touched before cold_below) if
    `cold`, warm if `warm`, with their ages (touch stamp less clock), to pages and ages at m;
    returns their new length. A pass that vectorises marks them (`mark`: scratch of at least
    hi - lo bytes and seven more), and only the marked are read again."""
    size = hi - lo
    vm_mark = padded_marks(mark, size)
    st, touched = state[lo:hi], touch_vns[lo:hi]
    for i in range(size):
        t = touched[i]
        wanted = ((t < cold_below) & cold) | ((t >= cold_below) & warm)
        vm_mark[i] = _candidate(st[i], clean_only) & wanted
    return _take_marked(vm_mark, lo, touch_vns, clock, pages, ages, m)


@njit(cache=True, nogil=True)
def _take_marked(
    marks: np.ndarray, lo: int, touch_vns: np.ndarray, clock: int, pages: np.ndarray,
    ages: np.ndarray, m: int,
) -> int:  # fmt: skip
    """Append the marked pages (engine.hotpath.marks), ascending, with their ages (touch
    stamp less clock), to pages and ages at m; returns their new length."""
    n = marked_pages(marks, lo, pages, m)
    for j in range(m, n):
        ages[j] = touch_vns[pages[j]] - clock
    return n
