"""The oracle's compiled next-use times, victims and fault reads: the same as plain numpy."""

from __future__ import annotations

import numpy as np
import pytest

from engine.hotpath.next_use import (
    C_CPU_NS,
    C_NEXT_OFF,
    C_POS,
    C_SEG_HI,
    C_SEG_LO,
    C_WIN_START,
    C_WINDOW_END,
    N_COLUMNS,
    farthest_pages,
    first_swapped,
    latest_keys,
    lower_to_next_use,
    planned_segments,
    use_times,
)
from engine.pool import CLEAN, DIRTY, PREFETCHED, SWAPPED

FAR = 1 << 61


def _numpy_use_times(ahead, starts, cum, cpu, share, unplanned_ns):
    """The formula as numpy arrays: planned segments at cpu per reference, then cpu × share."""
    far = ahead >= FAR // 2
    k = np.where(far, 0, ahead)
    if cum.size == 0:
        t = unplanned_ns + (k * cpu * share).astype(np.int64)
    else:
        j = np.searchsorted(cum, k, side="right")
        jj = np.minimum(j, cum.size - 1)
        before = np.where(jj > 0, cum[np.maximum(jj - 1, 0)], 0)
        t_in = starts[jj] + (k - before) * cpu
        last_end = int(starts[-1]) + (int(cum[-1]) - int(cum[-2] if cum.size > 1 else 0)) * cpu
        t_out = last_end + ((k - cum[-1]) * cpu * share).astype(np.int64)
        t = np.where(j < cum.size, t_in, t_out)
    return np.where(far, FAR, t)


def _plan(rng, n_segments):
    starts = np.sort(rng.integers(0, 10**9, size=n_segments)).astype(np.int64)
    cum = np.cumsum(rng.integers(0, 50_000, size=n_segments), dtype=np.int64)
    return starts, cum


@pytest.mark.parametrize("n_segments", [0, 1, 2, 7])
def test_use_times_match_the_numpy_formula(n_segments):
    """Inside, past and without a plan, and for FAR, the kernel gives the formula's times."""
    rng = np.random.default_rng(n_segments)
    starts, cum = _plan(rng, n_segments)
    ahead = rng.integers(0, 400_000, size=5_000).astype(np.int64)
    ahead[::17] = FAR
    ahead[:3] = [0, int(cum[-1]) if cum.size else 1, FAR // 2]
    got = use_times(ahead, starts, cum, 1_234, 2.5, 7_000_000, FAR)
    np.testing.assert_array_equal(got, _numpy_use_times(ahead, starts, cum, 1_234, 2.5, 7_000_000))


@pytest.mark.parametrize("window_end", [-1, 30_000])
def test_lower_to_next_use_keeps_the_sooner_time(window_end):
    """Each page's time becomes the sooner of its old one and this vCPU's next use, with a
    next use past a full window's end counted at that end."""
    rng = np.random.default_rng(5)
    starts, cum = _plan(rng, 3)
    next_pos = rng.integers(10_000, 60_000, size=4_096).astype(np.int64)
    next_pos[::5] = FAR
    rel = np.sort(rng.choice(4_096, size=1_000, replace=False)).astype(np.int64)
    out = rng.integers(0, 2 * 10**9, size=rel.size).astype(np.int64)
    before = out.copy()
    lower_to_next_use(out, next_pos, rel, window_end, 10_000, starts, cum, 999, 1.5, 5, FAR)
    nxt = next_pos[rel] if window_end < 0 else np.minimum(next_pos[rel], window_end)
    ahead = np.where(nxt >= FAR, FAR, nxt - 10_000)
    want = np.minimum(before, _numpy_use_times(ahead, starts, cum, 999, 1.5, 5))
    np.testing.assert_array_equal(out, want)


def test_first_swapped_is_the_first_distinct_swapped_pages_in_stream_order() -> None:
    """A fault read's extra pages, and prefetch's pages, are the distinct swapped pages of the
    scan in the order the stream first uses them (each with its first use), at most `limit`,
    never the page to skip; the flags it uses are left clear."""
    rng = np.random.default_rng(3)
    state = rng.integers(0, 7, size=600).astype(np.int8)
    seen = np.zeros(600, dtype=np.bool_)
    for limit, lo in ((1, 0), (7, 5), (63, 100), (500, 0), (4096, 7)):
        rel = rng.integers(0, 300, size=4096).astype(np.int64)
        g = rel[lo:] + 300
        skip = int(g[0])
        ok = np.flatnonzero((state[g] == SWAPPED) & (g != skip))
        _, first = np.unique(g[ok], return_index=True)
        at = ok[np.sort(first)][:limit]
        pages, got_at = first_swapped(rel, lo, rel.size, 300, state, SWAPPED, skip, limit, seen)
        np.testing.assert_array_equal(pages, g[at])
        np.testing.assert_array_equal(got_at, at)
        assert not seen.any()


def _numpy_farthest(n, state, clean_only, vm_base, vm_vcpus, rows, next_pos, starts, cum,
                    share, unplanned_ns, dirty_ns, last_use_ns):  # fmt: skip
    """The selection as plain numpy over every candidate: each page's soonest use by its VM's
    vCPUs, dirty pages brought forward, the n latest (equal keys by page), the n-th key's
    ties by least recent use then page."""
    ok = (state == CLEAN) | (state == PREFETCHED) | ((state == DIRTY) & (not clean_only))
    cand = np.flatnonzero(ok)
    key = np.full(cand.size, FAR, dtype=np.int64)
    for vm, vcpus in enumerate(vm_vcpus):
        mine = (cand >= vm_base[vm]) & (cand < vm_base[vm + 1])
        for v in vcpus:
            row = rows[v]
            nxt = next_pos[row[C_NEXT_OFF] + cand[mine] - vm_base[vm]]
            if row[C_WINDOW_END] >= 0:
                nxt = np.minimum(nxt, row[C_WINDOW_END])
            ahead = np.where(nxt >= FAR, FAR, nxt - row[C_POS])
            a, b = row[C_SEG_LO], row[C_SEG_HI]
            t = _numpy_use_times(ahead, starts[a:b], cum[a:b], row[C_CPU_NS], share, unplanned_ns)
            key[mine] = np.minimum(key[mine], t)
    key = key - np.where(state[cand] == DIRTY, dirty_ns, 0)
    n = min(n, cand.size)
    if n <= 0:
        return cand[:0], key[:0]
    kth = np.sort(key)[::-1][n - 1]
    above = np.flatnonzero(key > kth)
    above = above[np.argsort(-key[above], kind="stable")]
    tie = np.flatnonzero(key == kth)
    tie = tie[np.lexsort((cand[tie], last_use_ns[cand[tie]]))][: n - above.size]
    chosen = np.concatenate([above, tie])
    return cand[chosen], key[chosen]


def random_victim_case(case: int):
    """A random pool of four VMs (the odd cases with a VM of two vCPUs, every third with
    plans whose segments overlap) and what farthest_pages reads of it: (rng, state, vm_base,
    vm_vcpus, vm_vcpu_off, vm_vcpu_ids, rows, next_pos, starts, cum, share, unplanned,
    dirty_ns, last_use)."""
    rng = np.random.default_rng(100 + case)
    vm_pages = rng.integers(50, 900, size=4)
    vm_base = np.concatenate([[0], np.cumsum(vm_pages)]).astype(np.int64)
    vm_vcpus = [[0], [1, 2], [3], [4]] if case % 2 else [[0], [1], [2], [3]]
    vcpu_vm = [vm for vm, vs in enumerate(vm_vcpus) for _ in vs]
    sizes = [int(vm_pages[vm]) for vm in vcpu_vm]
    next_off = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    pos = rng.integers(1_000, 5_000, size=len(sizes))
    next_pos = np.concatenate(
        [p + rng.integers(0, 3_000, size=s) for p, s in zip(pos, sizes, strict=True)]
    ).astype(np.int64)
    next_pos[rng.random(next_pos.size) < 0.05] = FAR
    seg_starts, seg_cum, seg_off = [], [], [0]
    for _ in sizes:
        k = int(rng.integers(0, 4))
        st = np.sort(rng.integers(10**6, 10**8, size=k))
        if case % 3 == 0 and k > 1:
            st[1] = st[0]  # overlapping segments: time can go back
        seg_starts.append(st)
        seg_cum.append(np.cumsum(rng.integers(0, 2_000, size=k)))
        seg_off.append(seg_off[-1] + k)
    rows = np.zeros((len(sizes), N_COLUMNS), dtype=np.int64)
    rows[:, C_NEXT_OFF] = next_off[:-1]
    rows[:, C_WINDOW_END] = [
        int(p) + 2_000 if rng.random() < 0.7 else -1 for p in pos
    ]  # a full window (ties at its end) or not
    rows[:, C_POS] = pos
    rows[:, C_WIN_START] = pos - rng.integers(0, 600, size=len(sizes))  # (at or before it)
    rows[:, C_SEG_LO] = seg_off[:-1]
    rows[:, C_SEG_HI] = seg_off[1:]
    rows[:, C_CPU_NS] = rng.integers(1, 3_000, size=len(sizes))
    starts = np.concatenate(seg_starts).astype(np.int64)
    cum = np.concatenate(seg_cum).astype(np.int64)
    state = rng.choice([0, 1, 1, 2, 2, 3, 4, 5, 6], size=int(vm_base[-1])).astype(np.int8)
    last_use = rng.integers(0, 50, size=state.size).astype(np.int64)  # many equal
    vm_vcpu_off = np.cumsum([0] + [len(vs) for vs in vm_vcpus]).astype(np.int64)
    vm_vcpu_ids = np.array([v for vs in vm_vcpus for v in vs], dtype=np.int64)
    share, unplanned, dirty_ns = 1.75, 5 * 10**8, int(rng.integers(0, 10**6))
    return (
        rng, state, vm_base, vm_vcpus, vm_vcpu_off, vm_vcpu_ids, rows, next_pos, starts, cum,
        share, unplanned, dirty_ns, last_use,
    )  # fmt: skip


@pytest.mark.parametrize("case", range(12))
def test_farthest_pages_are_the_numpy_selection_over_every_candidate(case: int) -> None:
    """The compiled victim selection, which computes keys only for a shortlist, picks the
    same pages in the same order with the same keys as a selection over every candidate:
    with ties at the window's end and at never-used pages, VMs of two vCPUs, and plans whose
    segments overlap (a use time that goes back, where no shortlist is allowed)."""
    (
        _, state, vm_base, vm_vcpus, vm_vcpu_off, vm_vcpu_ids, rows, next_pos, starts, cum,
        share, unplanned, dirty_ns, last_use,
    ) = random_victim_case(case)  # fmt: skip
    for n in (0, 1, 17, 200, 5_000):
        for clean_only in (False, True):
            got = farthest_pages(
                n, state, clean_only, vm_base, vm_vcpu_off, vm_vcpu_ids, rows, next_pos,
                starts, cum, share, unplanned, FAR, dirty_ns, last_use,
                np.empty((5, state.size), dtype=np.int64),
            )  # fmt: skip
            want = _numpy_farthest(
                n, state, clean_only, vm_base, vm_vcpus, rows, next_pos, starts, cum, share,
                unplanned, dirty_ns, last_use,
            )  # fmt: skip
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[1], want[1])


def test_a_page_used_earlier_but_at_the_same_time_still_ties_for_the_last_victim() -> None:
    """Where two stream positions map to one time (a planned segment starts exactly where the
    last one's last reference falls), the earlier-used page ties with the later one and the
    less recently used of the two goes: no shortlist by position may drop it."""
    state = np.full(4, CLEAN, dtype=np.int8)
    next_pos = np.array([10, 9, 0, 1], dtype=np.int64)  # positions 9 and 10: both at 1,090 ns
    rows = np.array([[0, -1, 0, 0, 2, 10]], dtype=np.int64)
    starts = np.array([1_000, 1_090], dtype=np.int64)
    cum = np.array([10, 20], dtype=np.int64)
    last_use = np.array([50, 40, 0, 0], dtype=np.int64)
    one = np.array([0], dtype=np.int64)
    pages, keys = farthest_pages(
        1, state, False, np.array([0, 4]), np.array([0, 1]), one, rows, next_pos, starts, cum,
        1.0, 0, FAR, 0, last_use, np.empty((5, 4), dtype=np.int64),
    )  # fmt: skip
    assert pages.tolist() == [1] and keys.tolist() == [1_090]


def _python_segments(v, now, cpu, runs, begin, end, tol, vcpu, start, stop, made):
    """The time map as a Python loop: the rest of the running slice, then the planned
    slices that end after it and are at most as overdue as the plan is old."""
    starts, caps, after = [], [], now
    if runs:
        starts.append(begin)
        caps.append(max(0, end - begin) // cpu)
        after = end - tol
    for i in np.flatnonzero((vcpu == v) & (stop > after) & (start >= after - (now - made))):
        s = max(int(start[i]), now)
        starts.append(s)
        caps.append(max(0, int(stop[i]) - s) // cpu)
    return np.asarray(starts, dtype=np.int64), np.cumsum(caps, dtype=np.int64)


@pytest.mark.parametrize("runs", [False, True])
def test_planned_segments_match_the_python_loop(runs: bool) -> None:
    """A vCPU's planned segments and capacities are the Python loop's, for slices before,
    across and after now, overdue ones and other vCPUs' ones."""
    rng = np.random.default_rng(int(runs))
    for _ in range(30):
        size = int(rng.integers(0, 12))
        vcpu = rng.integers(0, 3, size=size)
        start = np.sort(rng.integers(0, 10**6, size=size))
        stop = start + rng.integers(0, 10**5, size=size)
        now, made = int(rng.integers(2 * 10**5, 6 * 10**5)), int(rng.integers(0, 2 * 10**5))
        begin, end = now + int(rng.integers(0, 10**4)), now + int(rng.integers(0, 10**5))
        cpu = int(rng.integers(1, 5_000))
        args = (1, now, cpu, runs, begin, end, 5_000, vcpu, start, stop, made)
        got = planned_segments(*args)
        want = _python_segments(*args)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


@pytest.mark.parametrize("seed", range(30))
def test_the_latest_keys_are_ranked_latest_first_with_ties_by_least_recent_use(seed: int) -> None:
    """latest_keys gives the n latest keys' indices: latest first, equal keys by page; at the
    n-th latest key, the least recently used (equal uses: the lower page) of those sharing it,
    as many as are wanted (the order of sorting every page by those rules)."""
    rng = np.random.default_rng(seed)
    size = int(rng.integers(0, 300))
    pages = np.sort(rng.choice(5_000, size=size, replace=False)).astype(np.int64)
    keys = rng.integers(0, int(rng.choice([3, 40, 10**9])), size=size).astype(np.int64)
    if seed % 3 == 0:
        keys[rng.random(size) < 0.2] = 1 << 61  # uses that never come, far apart from the rest
    last_use = rng.integers(0, 5, size=5_000).astype(np.int64)
    for n in (0, 1, size // 3 + 1, size, size + 5):
        got = latest_keys(n, pages, keys, last_use)
        k = min(n, size)
        if k == 0:
            assert got.size == 0
            continue
        kth = sorted(keys.tolist(), reverse=True)[k - 1]
        above = sorted((i for i in range(size) if keys[i] > kth), key=lambda i: (-keys[i], i))
        tied = sorted(
            (i for i in range(size) if keys[i] == kth), key=lambda i: (last_use[pages[i]], i)
        )
        assert got.tolist() == [*above, *tied][:k]
