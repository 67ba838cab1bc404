"""The compiled radix sort (engine.hotpath.radix) orders values exactly as numpy's sort, and the
victim selection that uses it picks exactly what partition and sort pick."""

from __future__ import annotations

import numpy as np
import pytest

from engine.hotpath.radix import radix_sort
from engine.policies import victims


@pytest.mark.parametrize("bits", [1, 11, 12, 33, 45, 62])
def test_radix_sort_equals_numpy_sort(bits: int) -> None:
    """Any values below 2**bits, duplicates and a shared top digit included, come out in
    numpy's order."""
    rng = np.random.default_rng(bits)
    for size in (0, 1, 7, 3000):
        values = rng.integers(0, 1 << bits, size, dtype=np.int64)
        values[: size // 3] = values[0] if size else 0
        np.testing.assert_array_equal(radix_sort(values, bits), np.sort(values))


@pytest.mark.parametrize("n", [1, 600, 5000, 9000])
def test_smallest_by_radix_equals_partition_and_sort(n: int) -> None:
    """victims.smallest on many pages (the radix branch) returns the n (key, page)-smallest
    pages in order, ties to the lower page, as the partition branch does on the same input."""
    rng = np.random.default_rng(n)
    pages = np.sort(rng.choice(1 << 20, 8000, replace=False)).astype(np.int64)
    keys = rng.integers(10**9, 10**9 + 5000, pages.size, dtype=np.int64)  # many ties
    got = victims.smallest(keys, pages, n)
    order = np.lexsort((pages, keys))[:n]
    np.testing.assert_array_equal(got, pages[order])
