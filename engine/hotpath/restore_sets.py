"""The restore sets of `predictive` and the schedule oracle, compiled: a VM's swapped pages
chosen and ordered in a pass or two over its range of the pool.

The numpy statements of the rules (`restore_set_reference` of WorkingSets and of
ScheduleOracle) build masks, page lists, keys and a packed sort for each part of a set:
~0.13 ms a schedule-oracle call, which it makes ~5,300 times a run on nvme_8vm_2x (~3,500
of them only for the set's size). The policies keep them as the readable statements, and
the tests compare the two call by call.

Every order here is `victims.smallest`'s on the key -touch_vns (most recent first, ties to
the lower page), got as it gets it: packed (key, page) values sorted by radix when many of
many are wanted (a restore usually takes all of a VM's thousands of swapped working-set
pages), else schedule_rank's `_oldest` (a heap, or partition and sort; stable sorts where
the keys do not pack in 62 bits)."""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.hotpath.marks import marked_pages, padded_marks
from engine.hotpath.oldest import bit_length
from engine.hotpath.radix import RADIX_FROM, sort_bits_above
from engine.hotpath.schedule_rank import PACKED_BITS, _oldest
from engine.page_states import SWAPPED


@njit(cache=True, nogil=True)
def recent_swapped(
    state: np.ndarray, touch_vns: np.ndarray, since_vns: int, cap_pages: int, lo: int, hi: int,
    work: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """`predictive`'s restore set in recency order: the swapped pages of [lo, hi) (a VM's
    range) touched at or after since_vns in the VM's clock (its working set), most recent
    first, ties to the lower page, at most cap_pages. work: three rows of scratch at least
    hi - lo long."""
    out = np.empty(max(cap_pages, 0), dtype=np.int64)
    pages, keys = work[0], work[1]
    m = _gather_recent(state, touch_vns, since_vns, lo, hi, pages, keys, work[2].view(np.uint8))
    return out[: _most_recent(cap_pages, pages, keys, m, out, 0)]


@njit(cache=True, nogil=True)
def set_first_restore(
    set_mask: np.ndarray, state: np.ndarray, touch_vns: np.ndarray, since_vns: int,
    cap_pages: int, lo: int, hi: int, work: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """The schedule oracle's restore set, at most cap_pages: the swapped pages of the VM's
    next-period set (set_mask, per page of [lo, hi)) most recent first, then the pages of
    `recent_swapped`'s set (with the same cap) that are not in it, in its order. Ties to the
    lower page. work: three rows of scratch at least hi - lo long."""
    out = np.empty(max(cap_pages, 0), dtype=np.int64)
    pages, keys = work[0], work[1]
    m = _gather_in_set(set_mask, state, touch_vns, lo, hi, pages, keys, work[2].view(np.uint8))
    taken = _most_recent(cap_pages, pages, keys, m, out, 0)
    if taken >= cap_pages:  # the set's swapped pages alone fill the cap (or it is 0)
        return out
    guess = recent_swapped(state, touch_vns, since_vns, cap_pages, lo, hi, work)
    for page in guess:
        if taken == cap_pages:
            break
        if not set_mask[page - lo]:
            out[taken] = page
            taken += 1
    return out[:taken]


@njit(cache=True, nogil=True)
def set_first_restore_size(
    set_mask: np.ndarray, state: np.ndarray, touch_vns: np.ndarray, since_vns: int,
    cap_pages: int, lo: int, hi: int,
) -> int:  # fmt: skip
    """set_first_restore(...).size, counted without ordering: the swapped pages of [lo, hi)
    in the set or touched at or after since_vns (A | W), at most cap_pages.

    Exact whatever order the guess has (recency or frequency): when the working set W fills
    the cap, the guess holds cap pages, of which only the set's swapped pages A can be in
    the set, so A and the rest of the guess fill the cap; else the guess is all of W, and
    the restore set is A then W's other pages, capped."""
    n = 0
    for p in range(lo, hi):
        if state[p] == SWAPPED and (set_mask[p - lo] or touch_vns[p] >= since_vns):
            n += 1
    return max(0, min(n, cap_pages))


@njit(cache=True, nogil=True)
def recent_swapped_size(
    state: np.ndarray, touch_vns: np.ndarray, since_vns: int, cap_pages: int, lo: int, hi: int
) -> int:
    """recent_swapped(...).size, counted in one pass without numpy's masks: the swapped pages
    of [lo, hi) touched at or after since_vns, at most cap_pages."""
    n = 0
    for p in range(lo, hi):
        n += (state[p] == SWAPPED) & (touch_vns[p] >= since_vns)
    return max(0, min(n, cap_pages))


@njit(cache=True, nogil=True)
def count_in_state(state: np.ndarray, lo: int, hi: int, wanted: int) -> int:
    """How many pages of [lo, hi) are in the state wanted (a VM's dirty pages: the most a
    write-back of its pages can write)."""
    n = 0
    for p in range(lo, hi):
        n += state[p] == wanted
    return n


@njit(cache=True, nogil=True)
def _most_recent(need: int, pages: np.ndarray, keys: np.ndarray, m: int, out: np.ndarray,
                 taken: int) -> int:  # fmt: skip
    """The `need` first of the first m pages (ascending) by (key, page), appended to out at
    `taken`; returns how many out holds now. Sorted by radix when many of many are wanted and
    the keys pack beside the pages (packed in place of the keys, the pages' row then the
    sort's scratch), else by `_oldest`."""
    if need <= 0 or m == 0:
        return taken
    if m < RADIX_FROM or need < m // 8:
        return _oldest(need, pages, keys, m, out, taken)
    key_lo, key_hi = keys[0], keys[0]
    for i in range(m):
        key_lo = min(key_lo, keys[i])
        key_hi = max(key_hi, keys[i])
    page_bits = max(1, bit_length(pages[m - 1]))
    key_bits = bit_length(key_hi - key_lo)
    if key_bits + page_bits > PACKED_BITS:
        return _oldest(need, pages, keys, m, out, taken)
    for i in range(m):
        keys[i] = ((keys[i] - key_lo) << page_bits) | pages[i]
    # The pages are ascending, so a stable sort of the key bits alone gives (key, page) order.
    ordered = sort_bits_above(keys[:m], pages[:m], page_bits, key_bits + page_bits)
    page_mask = (np.int64(1) << page_bits) - 1
    k = min(need, m)
    for i in range(k):
        out[taken + i] = ordered[i] & page_mask
    return taken + k


@njit(cache=True, nogil=True)
def _gather_recent(
    state: np.ndarray, touch_vns: np.ndarray, since_vns: int, lo: int, hi: int,
    pages: np.ndarray, keys: np.ndarray, mark: np.ndarray,
) -> int:  # fmt: skip
    """Write the swapped pages of [lo, hi) touched at or after since_vns, ascending, to pages
    and their keys (-touch_vns: the most recent is the least) to keys; returns how many. A
    pass that vectorises marks them (`mark`: scratch of hi - lo bytes and seven more), and
    only the marked are read again."""
    vm_mark = padded_marks(mark, hi - lo)
    st, touched = state[lo:hi], touch_vns[lo:hi]
    for i in range(hi - lo):
        vm_mark[i] = (st[i] == SWAPPED) & (touched[i] >= since_vns)
    return _take_marked(vm_mark, lo, touch_vns, pages, keys)


@njit(cache=True, nogil=True)
def _gather_in_set(
    set_mask: np.ndarray, state: np.ndarray, touch_vns: np.ndarray, lo: int, hi: int,
    pages: np.ndarray, keys: np.ndarray, mark: np.ndarray,
) -> int:  # fmt: skip
    """Write the swapped pages of [lo, hi) marked in set_mask (indexed from lo), ascending, to
    pages and their keys (-touch_vns) to keys; returns how many. A pass over bytes marks
    them (`mark` as _gather_recent's)."""
    vm_mark = padded_marks(mark, hi - lo)
    st = state[lo:hi]
    for i in range(hi - lo):
        vm_mark[i] = set_mask[i] & (st[i] == SWAPPED)
    return _take_marked(vm_mark, lo, touch_vns, pages, keys)


@njit(cache=True, nogil=True)
def _take_marked(
    marks: np.ndarray, lo: int, touch_vns: np.ndarray, pages: np.ndarray, keys: np.ndarray
) -> int:
    """Write the marked pages (engine.hotpath.marks), ascending, to pages and their keys
    (-touch_vns) to keys; returns how many."""
    m = marked_pages(marks, lo, pages, 0)
    for j in range(m):
        keys[j] = -touch_vns[pages[j]]
    return m
