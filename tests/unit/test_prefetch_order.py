"""The oracle's prefetch order: numpy's lexsort by use time, then page."""

from __future__ import annotations

import numpy as np
import pytest

from engine.hotpath.prefetch_order import by_use_then_page


@pytest.mark.parametrize(("size", "times"), [(0, 1), (1, 1), (50, 5), (3_000, 40), (3_000, 10**9)])
def test_the_order_is_lexsorts(size: int, times: int) -> None:
    """By use time, equal times by page, equal pairs in index order: short and long runs
    of equal times, repeated pages, and distinct times alike."""
    rng = np.random.default_rng(size + times)
    use = rng.integers(0, times, size=size).astype(np.int64)
    page = rng.integers(0, max(1, size // 3), size=size).astype(np.int64)
    np.testing.assert_array_equal(by_use_then_page(use, page), np.lexsort((page, use)))
