"""The oracle's victims from a key cut: farthest_pages' choice whenever enough pages reach
the cut, and no choice otherwise."""

from __future__ import annotations

import numpy as np
import pytest

from engine.hotpath.key_cut import farthest_above_cut
from tests.unit.test_next_use import FAR, _numpy_farthest, random_victim_case


@pytest.mark.parametrize("case", range(12))
def test_a_cut_reached_by_n_pages_gives_the_selection_over_every_candidate(case: int) -> None:
    """From any cut, the victims are exactly the selection over every candidate (pages, order
    and keys) when at least n candidates have a key at the cut or later, or the cut is
    -FAR; otherwise nothing is chosen. Cuts at, just past and around the n-th latest key
    (ties included), VMs of two vCPUs and plans whose use time goes back."""
    (
        rng, state, vm_base, vm_vcpus, vm_vcpu_off, vm_vcpu_ids, rows, next_pos, starts, cum,
        share, unplanned, dirty_ns, last_use,
    ) = random_victim_case(case)  # fmt: skip
    work = np.empty((1, state.size), dtype=np.int64)
    n_chosen = n_refused = 0
    for clean_only in (False, True):
        common = (vm_base, vm_vcpus, rows, next_pos, starts, cum, share, unplanned, dirty_ns)
        _, every_key = _numpy_farthest(10**9, state, clean_only, *common, last_use)
        latest = np.sort(every_key)[::-1]
        for n in (0, 1, 17, 200, 5_000):
            want = _numpy_farthest(n, state, clean_only, *common, last_use)
            at = [latest[min(r, latest.size - 1)] for r in (0, n - 1, n, 2 * n)] if n else []
            cuts = [-FAR, *at, *(c + 1 for c in at), int(rng.integers(0, 10**9)), FAR + 1]
            for cut in cuts:
                pages, keys, chosen, _ = farthest_above_cut(
                    n, int(cut), state, clean_only, vm_base, vm_vcpu_off, vm_vcpu_ids, rows,
                    next_pos, starts, cum, share, unplanned, FAR, dirty_ns, last_use, work,
                )  # fmt: skip
                enough = np.count_nonzero(every_key >= cut) >= n or cut <= -FAR
                assert chosen == enough
                if chosen:
                    n_chosen += 1
                    np.testing.assert_array_equal(pages, want[0])
                    np.testing.assert_array_equal(keys, want[1])
                else:
                    n_refused += 1
                    assert pages.size == 0
    assert n_chosen > 0 and n_refused > 0  # both ways were tried
