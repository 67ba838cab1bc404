"""The oracle's victims needing the fewest writes: the numpy rule, compiled."""

from __future__ import annotations

import numpy as np
import pytest

from engine.hotpath.fewest_writes import fewest_writes, fewest_writes_of_latest
from engine.hotpath.next_use import latest_keys, ranked
from engine.pool import CLEAN, DIRTY, PREFETCHED


def _numpy_fewest_writes(ranked, n, state, vm_of, n_vms):
    """Clean first; then dirty by VM, most dirty candidates first; stable keeps the ranking."""
    dirty = state[ranked] == DIRTY
    if not dirty.any() or ranked.size <= n:
        return ranked[:n]
    vms = vm_of[ranked].astype(np.int64)
    count = np.bincount(vms[dirty], minlength=n_vms)
    group = np.where(dirty, 1 + np.argsort(np.argsort(-count, kind="stable"))[vms], 0)
    return ranked[np.argsort(group, kind="stable")[:n]]


@pytest.mark.parametrize("seed", range(8))
def test_the_choice_is_the_numpy_rules(seed: int) -> None:
    """Clean pages in ranked order, then each VM's dirty ones, the VM with most first and
    equal counts by VM: the same pages in the same order as the numpy rule, for all-clean,
    all-dirty and mixed rankings, short or long."""
    rng = np.random.default_rng(seed)
    n_vms = int(rng.integers(1, 6))
    vm_of = rng.integers(0, n_vms, size=2_000).astype(np.int16)
    share_dirty = (0.0, 1.0, 0.5, 0.9)[seed % 4]
    state = np.where(
        rng.random(2_000) < share_dirty, DIRTY, rng.choice([CLEAN, PREFETCHED], size=2_000)
    ).astype(np.int8)
    for size, n in ((0, 3), (5, 8), (40, 5), (600, 75), (600, 599), (1_500, 1)):
        ranked = rng.permutation(2_000)[:size].astype(np.int64)
        got = fewest_writes(ranked, n, state, vm_of)
        np.testing.assert_array_equal(got, _numpy_fewest_writes(ranked, n, state, vm_of, n_vms))


@pytest.mark.parametrize("seed", range(8))
def test_straight_from_the_keys_it_is_the_choice_over_the_ranking(seed: int) -> None:
    """fewest_writes_of_latest picks the same pages in the same order as fewest_writes over
    latest_keys' ranking of the m latest: with many equal keys (ties at the m-th key broken
    by least recent use, equal uses by page), all-clean, all-dirty and mixed, m below, at and
    above n and past the number of pages."""
    rng = np.random.default_rng(50 + seed)
    n_pages = 1_500
    vm_of = rng.integers(0, 1 + seed % 5, size=n_pages).astype(np.int16)
    share_dirty = (0.0, 1.0, 0.5, 0.9)[seed % 4]
    state = np.where(
        rng.random(n_pages) < share_dirty, DIRTY, rng.choice([CLEAN, PREFETCHED], size=n_pages)
    ).astype(np.int8)
    last_use = rng.integers(0, 20, size=n_pages).astype(np.int64)  # many equal
    for size, n, m in ((0, 3, 24), (5, 8, 64), (40, 5, 40), (600, 75, 600), (900, 75, 600),
                       (1_200, 150, 1_200), (700, 1, 8), (300, 299, 2_392)):  # fmt: skip
        pages = np.sort(rng.permutation(n_pages)[:size]).astype(np.int64)
        keys = rng.integers(0, 40, size=size).astype(np.int64)  # many equal
        ranked = pages[latest_keys(m, pages, keys, last_use)]
        want = fewest_writes(ranked, n, state, vm_of)
        got = fewest_writes_of_latest(n, m, pages, keys, last_use, state, vm_of)
        np.testing.assert_array_equal(pages[got], want)


@pytest.mark.parametrize("span", [40, 1 << 40, 1 << 61])
def test_ranking_orders_any_indices_by_latest_key_then_index(span: int) -> None:
    """ranked puts indices given in any order latest key first, equal keys by index (a
    stable sort by key, latest first), whether the keys' span fits beside the indices in one
    int64 (one packed sort) or not (an argsort)."""
    rng = np.random.default_rng(span % 1000)
    keys = rng.integers(0, span, size=5_000).astype(np.int64)
    keys[rng.integers(0, keys.size, size=2_000)] = span // 2  # many equal
    for size in (0, 1, 7, 300, 2_000):
        idx = rng.permutation(keys.size)[:size].astype(np.int64)
        want = np.sort(idx)[np.argsort(-keys[np.sort(idx)], kind="stable")]
        np.testing.assert_array_equal(ranked(idx, keys), want)
