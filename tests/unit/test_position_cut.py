"""The oracle's victims by next-use position: farthest_pages' choice from any hint, or none
where a VM with candidates has several vCPUs or a time that goes back."""

from __future__ import annotations

import numpy as np
import pytest

from engine.hotpath.fewest_writes import fewest_writes
from engine.hotpath.lookahead import COARSE_TOP, coarse_shift
from engine.hotpath.next_use import (
    C_NEXT_OFF,
    C_SEG_HI,
    C_SEG_LO,
    C_WIN_START,
    C_WINDOW_END,
    _monotone,
    _time_at,
    farthest_pages,
)
from engine.hotpath.position_cut import (
    ALL_KEYS_BELOW,
    NO_CUT,
    _collected_keys,
    farthest_by_position,
    hint_reach,
    histogram_shape,
)
from engine.pool import CLEAN, DIRTY, PREFETCHED
from tests.unit.test_next_use import FAR, _numpy_farthest, random_victim_case


def _by_position(n, hint, state, clean_only, vm_base, vm_vcpu_off, vm_vcpu_ids, rows, next_pos,
                 starts, cum, share, unplanned, dirty_ns, last_use, window_refs,
                 keep=0, lower_hint=NO_CUT):  # fmt: skip
    """farthest_by_position with fresh scratch arrays (the counts all zero, as it leaves
    them); keep > 0: fewest_writes' keep of the n."""
    vm_of = np.repeat(np.arange(vm_base.size - 1), np.diff(vm_base)).astype(np.int16)
    counts = np.zeros(histogram_shape(vm_base.size - 1), dtype=np.int64)
    mark = np.full(-(-state.size // 8) * 8, 7, dtype=np.uint8)  # stale marks must not count
    work = np.empty((3, state.size), dtype=np.int64)
    coarse = _bytes_of(next_pos, rows, vm_base, vm_vcpu_off, vm_vcpu_ids, window_refs)
    out = farthest_by_position(
        n, hint, lower_hint, state, clean_only, vm_base, vm_vcpu_off, vm_vcpu_ids, rows,
        next_pos, starts, cum, share, unplanned, FAR, dirty_ns, last_use, window_refs, counts,
        mark, work, keep, vm_of, coarse,
    )  # fmt: skip
    assert not counts.any()  # left as found, for the next call
    return out


def _bytes_of(next_pos, rows, vm_base, vm_vcpu_off, vm_vcpu_ids, window_refs):
    """Each vCPU's next uses' bytes as the oracle's windows keep them (engine.hotpath.lookahead),
    from its row's window start, by numpy."""
    shift = coarse_shift(window_refs)
    coarse = np.full(next_pos.size, COARSE_TOP, dtype=np.uint8)
    for vm in range(vm_base.size - 1):
        for v in vm_vcpu_ids[vm_vcpu_off[vm] : vm_vcpu_off[vm + 1]]:
            off, start = int(rows[v, C_NEXT_OFF]), int(rows[v, C_WIN_START])
            nxt = next_pos[off : off + int(vm_base[vm + 1] - vm_base[vm])]
            bytes_ = np.minimum((np.maximum(nxt, start) - start) >> shift, COARSE_TOP)
            coarse[off : off + nxt.size] = bytes_
    return coarse


def _general_vm_has_candidates(state, clean_only, vm_base, vm_vcpus, rows, starts, cum, share):
    """Whether a VM with an evictable page has several vCPUs or a use time that goes back."""
    for vm, vcpus in enumerate(vm_vcpus):
        st = state[vm_base[vm] : vm_base[vm + 1]]
        ok = (st == CLEAN) | (st == PREFETCHED) | ((st == DIRTY) & (not clean_only))
        if ok.any() and (len(vcpus) != 1 or not _monotone(rows[vcpus[0]], starts, cum, share)):
            return True
    return False


@pytest.mark.parametrize("window_refs", [4096, 1 << 20])
@pytest.mark.parametrize("case", range(12))
def test_from_any_hint_the_victims_are_the_selection_over_every_candidate(
    case: int, window_refs: int
) -> None:
    """From any hint (none, below every key, at and around the n-th latest key, past every
    key, the hint the call itself leaves), and any lower hint to try next, the victims are
    exactly the selection over every candidate (pages, order and keys); where a VM with
    candidates has two vCPUs or a time that goes back, nothing is chosen. Buckets of 2 and
    of 512 positions, and each use's byte counting 16 or 4,096 positions."""
    (
        rng, state, vm_base, vm_vcpus, vm_vcpu_off, vm_vcpu_ids, rows, next_pos, starts, cum,
        share, unplanned, dirty_ns, last_use,
    ) = random_victim_case(case)  # fmt: skip
    n_done = 0
    for clean_only in (False, True):
        common = (vm_base, vm_vcpus, rows, next_pos, starts, cum, share, unplanned, dirty_ns)
        _, every_key = _numpy_farthest(10**9, state, clean_only, *common, last_use)
        latest = np.sort(every_key)[::-1]
        general = _general_vm_has_candidates(
            state, clean_only, vm_base, vm_vcpus, rows, starts, cum, share
        )
        for n in (0, 1, 17, 200, 5_000):
            want = _numpy_farthest(n, state, clean_only, *common, last_use)
            at = [latest[min(r, latest.size - 1)] for r in (0, n - 1, n, 2 * n)] if n else []
            hints = [NO_CUT, -FAR, *at, *(c + 1 for c in at), int(rng.integers(0, 10**9)), FAR + 1]
            for i, hint in enumerate(hints):
                lower = hints[(i + 3) % len(hints)]  # below the hint or not, reached or not
                pages, keys, done, next_hint = _by_position(
                    n, int(hint), state, clean_only, vm_base, vm_vcpu_off, vm_vcpu_ids, rows,
                    next_pos, starts, cum, share, unplanned, dirty_ns, last_use, window_refs,
                    lower_hint=int(lower),
                )  # fmt: skip
                assert done == (n == 0 or not general)
                if not done:
                    assert pages.size == 0
                    continue
                n_done += 1
                np.testing.assert_array_equal(pages, want[0])
                np.testing.assert_array_equal(keys, want[1])
                again = _by_position(
                    n, next_hint, state, clean_only, vm_base, vm_vcpu_off, vm_vcpu_ids, rows,
                    next_pos, starts, cum, share, unplanned, dirty_ns, last_use, window_refs,
                )  # fmt: skip
                np.testing.assert_array_equal(again[0], want[0])
    assert n_done > 0


def test_the_hint_left_is_reached_by_more_than_the_victims() -> None:
    """The next hint is a cut that at least hint_reach(n) > n candidates reach (when that
    many exist), so that the next call, after this one's victims leave, still finds n."""
    (
        _, state, vm_base, _, vm_vcpu_off, vm_vcpu_ids, rows, next_pos, starts, cum, share,
        unplanned, dirty_ns, last_use,
    ) = random_victim_case(2)  # fmt: skip
    vm_vcpus = [[0], [1], [2], [3]]
    common = (vm_base, vm_vcpus, rows, next_pos, starts, cum, share, unplanned, dirty_ns)
    _, every_key = _numpy_farthest(10**9, state, False, *common, last_use)
    for n in (1, 17, 200):
        hint = _by_position(
            n, NO_CUT, state, False, vm_base, vm_vcpu_off, vm_vcpu_ids, rows, next_pos, starts,
            cum, share, unplanned, dirty_ns, last_use, 4096,
        )[3]  # fmt: skip
        assert hint > NO_CUT
        assert hint_reach(n) > n
        assert np.count_nonzero(every_key >= hint) >= hint_reach(n)


def test_a_page_used_earlier_but_at_the_same_time_still_ties_for_the_last_victim() -> None:
    """Where two stream positions map to one time, the earlier-used page ties with the later
    one and the less recently used of the two goes, whatever the hint (as farthest_pages)."""
    state = np.full(4, CLEAN, dtype=np.int8)
    next_pos = np.array([10, 9, 0, 1], dtype=np.int64)  # positions 9 and 10: both at 1,090 ns
    rows = np.array([[0, -1, 0, 0, 2, 10, 0]], dtype=np.int64)
    starts = np.array([1_000, 1_090], dtype=np.int64)
    cum = np.array([10, 20], dtype=np.int64)
    last_use = np.array([50, 40, 0, 0], dtype=np.int64)
    one = np.array([0], dtype=np.int64)
    assert rows[0, C_SEG_HI] - rows[0, C_SEG_LO] == 2
    vm_base, vm_vcpu_off = np.array([0, 4]), np.array([0, 1])
    want = farthest_pages(
        1, state, False, vm_base, vm_vcpu_off, one, rows, next_pos, starts, cum, 1.0, 0, FAR,
        0, last_use, np.empty((5, 4), dtype=np.int64),
    )  # fmt: skip
    assert want[0].tolist() == [1]
    for hint in (NO_CUT, 1_089, 1_090, 1_091):
        pages, keys, done, _ = _by_position(
            1, hint, state, False, vm_base, vm_vcpu_off, one, rows, next_pos, starts, cum, 1.0,
            0, 0, last_use, 16,
        )  # fmt: skip
        assert done and pages.tolist() == [1] and keys.tolist() == [1_090]


@pytest.mark.parametrize("case", [2, 4, 8])  # VMs of one vCPU, time never going back
def test_keeping_some_gives_fewest_writes_over_the_selection(case: int) -> None:
    """Asked to keep k of the n, the victims are fewest_writes' k of the selection over every
    candidate, in its order, with their keys."""
    (
        rng, state, vm_base, vm_vcpus, vm_vcpu_off, vm_vcpu_ids, rows, next_pos, starts, cum,
        share, unplanned, dirty_ns, last_use,
    ) = random_victim_case(case)  # fmt: skip
    vm_of = np.repeat(np.arange(vm_base.size - 1), np.diff(vm_base)).astype(np.int16)
    common = (vm_base, vm_vcpus, rows, next_pos, starts, cum, share, unplanned, dirty_ns)
    for n, keep in ((8, 1), (200, 25), (1_000, 125), (5_000, 625)):
        ranked, ranked_keys = _numpy_farthest(n, state, False, *common, last_use)
        want = fewest_writes(ranked, keep, state, vm_of)
        for hint in (NO_CUT, int(rng.integers(0, 10**9))):
            pages, keys, done, _ = _by_position(
                n, hint, state, False, vm_base, vm_vcpu_off, vm_vcpu_ids, rows, next_pos,
                starts, cum, share, unplanned, dirty_ns, last_use, 4096, keep,
            )  # fmt: skip
            assert done
            np.testing.assert_array_equal(pages, want)
            key_of = dict(zip(ranked.tolist(), ranked_keys.tolist(), strict=True))
            assert keys.tolist() == [key_of[p] for p in want.tolist()]


@pytest.mark.parametrize("case", range(12))
@pytest.mark.parametrize("compiled", [True, False])
def test_the_keys_worked_out_without_branches_are_the_next_use_times(
    case: int, compiled: bool
) -> None:
    """_collected_keys (every segment's time worked out, one picked by selects) gives each
    page the key _time_at's branches give: plans of none to three segments, uses past the
    plan and beyond the window, uses that never come, dirty pages less the write. Compiled
    and interpreted (NUMBA_DISABLE_JIT runs the latter)."""
    (
        rng, _, vm_base, vm_vcpus, vm_vcpu_off, vm_vcpu_ids, rows, next_pos, starts, cum,
        share, unplanned, dirty_ns, _,
    ) = random_victim_case(case)  # fmt: skip
    n_vms = vm_base.size - 1
    one = np.array([len(vs) == 1 for vs in vm_vcpus])
    # Every page of each VM of one vCPU, at its window-clamped next use, as collect_reaching
    # leaves them; with a use far past the plan's end now and then.
    firsts, ats, dirties, want = [0], [], [], []
    for vm in range(n_vms):
        if one[vm]:
            row = rows[vm_vcpu_ids[vm_vcpu_off[vm]]]
            end = row[C_WINDOW_END] if row[C_WINDOW_END] >= 0 else np.iinfo(np.int64).max
            off = int(row[C_NEXT_OFF])
            nxt = next_pos[off : off + int(vm_base[vm + 1] - vm_base[vm])].copy()
            nxt[rng.random(nxt.size) < 0.1] += 10**7
            for at in np.minimum(nxt, end).tolist():
                dirty = int(rng.random() < 0.5)
                ats.append(at)
                dirties.append(dirty)
                t = _time_at(at, row, starts, cum, share, unplanned, FAR)
                want.append(min(t, FAR) - dirty_ns * dirty)
        firsts.append(len(ats))
    keys_of = _collected_keys if compiled else _collected_keys.py_func
    keys = keys_of(
        n_vms, np.array(firsts), np.array(ats, dtype=np.int64), np.array(dirties),
        vm_vcpu_off, vm_vcpu_ids, rows, starts, cum, share, unplanned, FAR, dirty_ns,
    )  # fmt: skip
    assert keys.tolist() == want
    assert len(want) > 100


def test_both_ways_of_shortlisting_are_taken() -> None:
    """Calls with few candidates beside the n key them all; calls with many walk the
    buckets: the tests above reach both (the same choice either way)."""
    (
        _, state, vm_base, _, vm_vcpu_off, vm_vcpu_ids, rows, next_pos, starts, cum, share,
        unplanned, dirty_ns, last_use,
    ) = random_victim_case(2)  # fmt: skip
    n_candidates = int(np.count_nonzero((state >= CLEAN) & (state <= PREFETCHED)))
    few, many = n_candidates // ALL_KEYS_BELOW + 1, n_candidates // (4 * ALL_KEYS_BELOW)
    assert n_candidates < ALL_KEYS_BELOW * few and n_candidates >= ALL_KEYS_BELOW * many
    for n in (few, many):
        _, keys, done, _ = _by_position(
            n, NO_CUT, state, False, vm_base, vm_vcpu_off, vm_vcpu_ids, rows, next_pos, starts,
            cum, share, unplanned, dirty_ns, last_use, 4096,
        )  # fmt: skip
        assert done and keys.size == n
