"""The oracle's look-ahead window, compiled: each position of a vCPU's next references linked
to the next use of the same page, and the per-page next-use positions kept up to date as the
stream moves on. One linear pass each, where numpy needed a sort and a dozen temporaries."""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.hotpath.oldest import bit_length

# Each page's next use is also kept in a byte (`coarse`): its distance from its window's start in
# units of 2**shift (coarse_shift), at most COARSE_TOP (a use that never comes: COARSE_TOP too).
# It never decreases with the position, so the pages used at or after a position are among those
# whose byte reaches that position's: the oracle's victim pass (engine.hotpath.position_cut)
# compares a byte a page, which vectorises thirty-two pages at a time, where the positions
# themselves take eight bytes each and do not.
COARSE_TOP = 255


@njit(cache=True, nogil=True)
def coarse_shift(window_refs: int) -> int:
    """The shift that puts every distance within a window of window_refs references into a
    byte (a window's uses lie in [start, start + window_refs))."""
    return max(0, bit_length(max(1, window_refs - 1)) - 8)


@njit(cache=True, nogil=True, inline="always")
def coarse_use(at: int, start: int, shift: int) -> np.uint8:
    """The byte of a use at position `at` in a window from `start`: never less for a later
    use (at before start counts as start; far, a use that never comes, as COARSE_TOP)."""
    return np.uint8(min((max(at, start) - start) >> shift, COARSE_TOP))


@njit(cache=True, nogil=True)
def link_window(
    rel: np.ndarray, start: int, far: int, last: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(next_same, first): for each position i of rel (stream position start + i), the
    stream position of the next reference to the same page (far: none in rel); and the
    indices of the first reference to each page, ascending. `last`: scratch of at least
    max(rel) + 1 entries, any content (left dirty). The readable reference for draw_window,
    which the oracle runs."""
    size = rel.size
    next_same = np.empty(size, dtype=np.int64)
    for i in range(size):  # only the pages of rel need a clean slot
        last[rel[i]] = far
    for i in range(size - 1, -1, -1):
        p = rel[i]
        next_same[i] = last[p]
        last[p] = start + i
    # A page's first reference is where `last` still points; there are no more of them than
    # pages `last` has room for (one spare slot: the write below runs one ahead of the count).
    first = np.empty(min(size, last.size) + 1, dtype=np.int64)
    n_first = 0
    for i in range(size):
        first[n_first] = i
        n_first += last[rel[i]] == start + i
    return next_same, first[:n_first].copy()


@njit(cache=True, nogil=True)
def must_redraw(pos: int, start: int, size: int) -> bool:
    """Whether a vCPU at stream position pos needs its window (from start, size references;
    size -1: none) drawn afresh: it has none, or more than three quarters of it have gone by
    (what is left would soon look ahead too little). One rule for the oracle's `_refresh`
    and the compiled calls that move its windows on."""
    return size < 0 or pos - start > size * 3 // 4


@njit(cache=True, nogil=True)
def advance_next_use(
    next_pos: np.ndarray, rel: np.ndarray, next_same: np.ndarray, lo: int, hi: int,
    coarse: np.ndarray, start: int, shift: int,
) -> None:  # fmt: skip
    """The stream moved from index lo to hi of its window (from stream position start): each
    page referenced in between is next used where its last reference there links to (the
    pages not referenced keep their next use), its byte in `coarse` with it."""
    for i in range(lo, hi):  # a later reference to the same page overwrites an earlier one
        next_pos[rel[i]] = next_same[i]
        coarse[rel[i]] = coarse_use(next_same[i], start, shift)


# draw_window's mark in its scratch `last` of a page met in the forward pass (a stream position
# is never negative).
_MET = -1


@njit(cache=True, nogil=True)
def draw_window(
    src: np.ndarray, start: int, far: int, last: np.ndarray, rel: np.ndarray,
    next_same: np.ndarray, next_pos: np.ndarray, coarse: np.ndarray, shift: int,
) -> None:  # fmt: skip
    """The references src (from stream position start) copied into rel, with link_window's
    links in next_same and each page's first use written into next_pos (every other page
    far), its byte into coarse: two passes over the window, not three and a scatter.
    `last`: every entry far on entry, and so again on return (only the pages met are put
    back)."""
    next_pos[:] = far
    coarse[:] = COARSE_TOP
    size = src.size
    met = np.empty(min(size, last.size), dtype=np.int64)
    n_met = 0
    for i in range(size):
        p = src[i]
        rel[i] = p
        if last[p] == far:
            next_pos[p] = start + i
            coarse[p] = coarse_use(start + i, start, shift)
            last[p] = _MET
            met[n_met] = p
            n_met += 1
    for i in range(size - 1, -1, -1):
        p = rel[i]
        at = last[p]
        next_same[i] = far if at < 0 else at
        last[p] = start + i
    for k in range(n_met):
        last[met[k]] = far
