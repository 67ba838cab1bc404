"""The order the oracle issues prefetches in, compiled: by use time, equal times by page.

np.lexsort on the two keys sorts twice; here one stable sort by time, then the rare runs of
equal times by page."""

from __future__ import annotations

import numpy as np
from numba import njit

_SHORT_RUN = 16  # equal times: insertion sort up to this many, a stable sort beyond


@njit(cache=True, nogil=True)
def by_use_then_page(use: np.ndarray, page: np.ndarray) -> np.ndarray:
    """np.lexsort((page, use)): the indices ordered by use, equal uses by page, equal
    (use, page) pairs in index order."""
    order = np.argsort(use, kind="mergesort")
    n = order.size
    i = 0
    while i < n:
        j = i + 1
        while j < n and use[order[j]] == use[order[i]]:
            j += 1
        if j - i > _SHORT_RUN:
            run = order[i:j].copy()
            order[i:j] = run[np.argsort(page[run], kind="mergesort")]
        elif j - i > 1:
            for a in range(i + 1, j):  # insertion sort: stable
                x = order[a]
                b = a - 1
                while b >= i and page[order[b]] > page[x]:
                    order[b + 1] = order[b]
                    b -= 1
                order[b + 1] = x
        i = j
    return order
