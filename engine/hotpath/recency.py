"""Pages in most-recently-used-first order, as `predictive`'s restores read them: by a stamp,
largest first, equal stamps by page id. A restore set is ordered several times per step, so
the two sort keys go into one int64 (stamp below the largest, shifted, and the page's rank)
and only the pages a restore may read are sorted (a partition finds them first)."""

from __future__ import annotations

import numpy as np

# The packed key keeps two bits of int64 spare, so the shifted stamp never reaches the sign.
KEY_BITS = 62


def most_recent_first(pages: np.ndarray, stamps: np.ndarray, limit: int) -> np.ndarray:
    """The first `limit` of `pages` (strictly ascending) ordered by `stamps` (int64, one per
    page) descending, ties by page ascending: exactly pages[np.lexsort((pages, -stamps))]
    [:limit]. Stamps spread wider than the packed key holds are sorted by lexsort."""
    n = int(pages.size)
    if n == 0 or limit <= 0:
        return pages[:0]
    top = int(stamps.max())
    rank_bits = max(1, (n - 1).bit_length())
    if top - int(stamps.min()) >= 1 << (KEY_BITS - rank_bits):
        return pages[np.lexsort((pages, -stamps))][:limit]
    # Ascending pages: a page's rank is its position, so rank order is page order.
    key = ((top - stamps.astype(np.int64)) << rank_bits) | np.arange(n, dtype=np.int64)
    if limit < n:
        key = np.partition(key, limit - 1)[:limit]
    key.sort()
    return pages[key & ((1 << rank_bits) - 1)]
