"""The oracle's victims needing the fewest writes: the numpy rule, compiled."""

from __future__ import annotations

import numpy as np
import pytest

from engine.hotpath.fewest_writes import fewest_writes
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
