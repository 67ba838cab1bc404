"""CLOCK (second chance) victims in the compiled hot path: the hand walks the pool in page
order from where it stopped, clearing set reference bits and taking pages whose bit is clear.

It visits only as many pages as it takes to find n victims, where a pass over the whole pool
(finding the candidates, then the ring) cost a reclaim O(pool) in numpy. The answers are those
of the vectorised sweep `tests/unit/test_clock_victims.py` keeps as the model.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.page_states import CLEAN, PREFETCHED


@njit(cache=True, nogil=True)
def evictable(s: int, clean_only: bool) -> bool:
    """Whether reclaim may take a page in state s (victims.candidates' test)."""
    if clean_only:
        return s in (CLEAN, PREFETCHED)
    return s >= CLEAN and s <= PREFETCHED


@njit(cache=True, nogil=True)
def clock_victims(
    state: np.ndarray, ref_bit: np.ndarray, hand: int, n: int, clean_only: bool, out: np.ndarray
) -> tuple[int, int]:
    """Up to n evictable pages (clean and prefetched only if clean_only) chosen by the hand
    from page `hand` on, written to out[:count] ascending. Returns (count, the new hand).

    One sweep clears every set bit it passes and takes the clear ones; if it comes round with
    fewer than n, a second pass takes the pages whose bits it cleared, in ring order."""
    n_pages = state.size
    start = hand if hand < n_pages else 0
    taken = 0
    last_candidate = -1  # the ring's last page: where the hand rests if the sweep takes all
    if n <= 0:
        return 0, hand
    for i in range(n_pages):
        page = start + i
        if page >= n_pages:
            page -= n_pages
        if not evictable(state[page], clean_only):
            continue
        last_candidate = page
        if ref_bit[page]:
            ref_bit[page] = False
        else:
            out[taken] = page
            taken += 1
            if taken == n:
                out[:taken].sort()
                return taken, page + 1
    if last_candidate < 0:
        return 0, hand  # nothing evictable: the hand stays
    first_pass = taken
    skip = 0  # the first pass's victims, in ring order, are passed over
    new_hand = last_candidate + 1
    for i in range(n_pages):
        if taken == n:
            break
        page = start + i
        if page >= n_pages:
            page -= n_pages
        if not evictable(state[page], clean_only):
            continue
        if skip < first_pass and out[skip] == page:
            skip += 1
            continue
        out[taken] = page
        taken += 1
        new_hand = page + 1
    out[:taken].sort()
    return taken, new_hand
