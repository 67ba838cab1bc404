"""Compiled mapping steps of the reference streams: uniform draws in, page numbers out.

The draws still come from numpy's Generator (so every stream keeps its numbers); only the
arithmetic that maps them onto pages runs here, element by element, with the same floating-
point comparisons as the numpy version it replaced, so the pages are identical."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def zipf_ranks(u: np.ndarray, cdf: np.ndarray, guide: np.ndarray, m: int) -> np.ndarray:
    """Rank r (0-based) with cdf[r-1] <= u < cdf[r] for each u in [0, 1): the guide table
    gives a first guess at or below the answer, a short forward walk finds it."""
    n = cdf.size
    out = np.empty(u.size, dtype=np.int64)
    for j in range(u.size):
        x = u[j]
        i = guide[np.int64(x * m)]
        while i < n and cdf[i] <= x:
            i += 1
        out[j] = min(i, n - 1)
    return out
