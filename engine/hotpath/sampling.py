"""Compiled mapping steps of the reference streams: uniform draws in, page numbers out.

The draws still come from numpy's Generator (so every stream keeps its numbers); only the
arithmetic that maps them onto pages runs here, element by element, with the same floating-
point comparisons as the numpy version it replaced, so the pages are identical."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def zipf_ranks(
    u: np.ndarray, cdf: np.ndarray, guide: np.ndarray, m: int, out: np.ndarray
) -> np.ndarray:
    """out[j] = the rank r (0-based) with cdf[r-1] <= u[j] < cdf[r], for each u in [0, 1).

    Guide cell g = ⌊u·m⌋ holds the first candidate (guide[g], the ranks of CDF values up to
    g/m) and guide[g + 1] the last, so a cell spanning at most one boundary of the CDF needs
    one comparison and no branch that depends on u (unpredictable branches, one per draw, were
    most of this loop's time); a longer cell walks on."""
    n = cdf.size
    for j in range(u.size):
        x = u[j]
        g = min(int(x * m), m - 1)  # x·m rounds up to m for the largest draws
        lo = guide[g]
        i = lo + (cdf[lo] <= x)
        if guide[g + 1] - lo > 1:
            while i < n and cdf[i] <= x:
                i += 1
        out[j] = min(i, n - 1)
    return out


@njit(cache=True, nogil=True)
def mixture_parts(u: np.ndarray, cum: np.ndarray, which: np.ndarray, counts: np.ndarray) -> None:
    """which[j] = the part draw u[j] picks: how many of the cumulative shares cum are <= u[j]
    (numpy's searchsorted, side "right"), at most the last part; counts[k] grows by the draws
    part k got. A walk from the first part: mixtures have a few parts."""
    last = cum.size - 1
    for j in range(u.size):
        x = u[j]
        k = 0
        while k < last and cum[k] <= x:
            k += 1
        which[j] = k
        counts[k] += 1


@njit(cache=True, nogil=True)
def place_part(which: np.ndarray, part: int, values: np.ndarray, out: np.ndarray) -> None:
    """Put part's values, in order, where which names it: out[which == part] = values."""
    c = 0
    for j in range(which.size):
        if which[j] == part:
            out[j] = values[c]
            c += 1
