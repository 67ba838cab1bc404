"""Most-recently-used-first order of restore sets (engine/hotpath/recency.py)."""

from __future__ import annotations

import numpy as np

from engine.hotpath.recency import most_recent_first


def test_order_is_exactly_lexsort_by_stamp_descending_then_page() -> None:
    """For random pages, stamps with many ties and any limit, the result equals
    pages[lexsort((pages, -stamps))][:limit]."""
    rng = np.random.default_rng(5)
    for _ in range(200):
        n = int(rng.integers(0, 400))
        pages = np.sort(rng.choice(100_000, n, replace=False)).astype(np.int64)
        stamps = rng.integers(0, int(rng.choice([3, 1_000, 10**12])), n).astype(np.int64)
        limit = int(rng.integers(0, n + 5))
        expected = pages[np.lexsort((pages, -stamps))][:limit]
        assert np.array_equal(most_recent_first(pages, stamps, limit), expected)


def test_stamps_too_spread_for_one_key_still_sort_exactly() -> None:
    """Stamps spanning most of int64 (no room for the page's rank) give the same order."""
    pages = np.arange(10, 20, dtype=np.int64)
    stamps = np.array([0, 1 << 61, 5, 1 << 61, -(1 << 61), 7, 7, 0, 1 << 40, 3], dtype=np.int64)
    expected = pages[np.lexsort((pages, -stamps))]
    assert np.array_equal(most_recent_first(pages, stamps, 10), expected)
