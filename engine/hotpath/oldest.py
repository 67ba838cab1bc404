"""Making a kept list of the oldest evictable pages, compiled: `victims.Oldest`'s full selection,
done by Python's background reclaim and, inside the per-reference kernel, by direct reclaim.

The pages come out in (key, page) order, as `victims.smallest` gives them: packed into one
int64 each, in page order, and sorted by radix on the key bits alone (a stable sort keeps the
pages of one key in page order). Where the keys span too much to pack (hours of simulated
time), the caller falls back to Python's selection, which gives the same order.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.hotpath.bits import bit_width
from engine.hotpath.radix import sort_bits_above
from engine.page_states import CLEAN, PREFETCHED

TOO_WIDE = -1  # the keys do not pack: let victims.smallest select


@njit(cache=True, nogil=True)
def bit_length(x: int) -> int:
    """int.bit_length of a non-negative x (0 for any x below 1): the processor's count of
    leading zeros (engine.hotpath.bits)."""
    return bit_width(np.uint64(x)) if x > 0 else 0


@njit(cache=True, nogil=True)
def oldest_pages(
    state: np.ndarray, keys_now: np.ndarray, want: int, out_pages: np.ndarray, out_keys: np.ndarray
) -> int:
    """The `want` evictable pages (CLEAN to PREFETCHED) with the smallest keys, ties to the
    lower page, written in that order to out_pages (their keys to out_keys); returns how many
    (all the evictable ones when there are fewer), or TOO_WIDE, writing nothing, when
    (key - smallest key, page) does not fit in 62 bits."""
    # Candidates first, without a branch per page (which page is resident is unpredictable).
    cand = np.empty(state.size, dtype=np.int64)
    n_cand = 0
    for page in range(state.size):
        s = state[page]
        cand[n_cand] = page
        n_cand += (s >= CLEAN) & (s <= PREFETCHED)
    if want <= 0 or n_cand == 0:
        return 0
    packed = np.empty(n_cand, dtype=np.int64)
    lo = hi = keys_now[cand[0]]
    for i in range(n_cand):
        key = keys_now[np.uint64(cand[i])]  # unsigned: no wraparound of negative indices
        packed[i] = key
        lo = min(lo, key)
        hi = max(hi, key)
    page_bits = max(1, bit_length(cand[n_cand - 1]))
    key_bits = bit_length(hi - lo)
    if key_bits + page_bits > 62:
        return TOO_WIDE
    for i in range(n_cand):
        packed[i] = ((packed[i] - lo) << page_bits) | cand[i]
    ordered = sort_bits_above(packed, cand[:n_cand], page_bits, key_bits + page_bits)
    n = min(want, n_cand)
    mask = (1 << page_bits) - 1
    for i in range(n):
        value = ordered[i]
        out_pages[i] = value & mask
        out_keys[i] = (value >> page_bits) + lo
    return n
