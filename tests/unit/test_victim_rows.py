"""The oracle's table of its vCPUs for a victim selection: the compiled helpers fill what the
numpy expressions they replace computed."""

from __future__ import annotations

import numpy as np
import pytest

from engine.hotpath.lookahead import coarse_use
from engine.hotpath.next_use import (
    C_CPU_NS,
    C_POS,
    C_SEG_HI,
    C_SEG_LO,
    C_WIN_START,
    C_WINDOW_END,
    N_COLUMNS,
)
from engine.hotpath.victim_rows import fill_rows, look_and_catch_up, vcpus_to_look_at
from engine.pool import CLEAN, DIRTY, PREFETCHED, SWAPPED


@pytest.mark.parametrize("seed", range(20))
def test_the_vcpus_looked_at_are_those_of_vms_with_a_candidate(seed: int) -> None:
    """A vCPU is looked at when its VM has an evictable page (clean or prefetched only, for a
    clean-only selection); those looked at whose position is not where their next uses are
    come back, ascending, to be brought up to date."""
    rng = np.random.default_rng(seed)
    n_vms = int(rng.integers(1, 6))
    sizes = rng.integers(0, 40, size=n_vms)
    vm_base = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    states = np.array([0, CLEAN, DIRTY, PREFETCHED, SWAPPED], dtype=np.int8)
    # Sparse candidates: some VMs have none, or only dirty ones.
    state = rng.choice(states, size=int(vm_base[-1]), p=[0.5, 0.05, 0.1, 0.05, 0.3])
    vcpu_vm = np.sort(rng.integers(0, n_vms, size=int(rng.integers(1, 9)))).astype(np.int64)
    rows = np.zeros((vcpu_vm.size, N_COLUMNS), dtype=np.int64)
    rows[:, C_POS] = rng.integers(0, 4, size=vcpu_vm.size)
    seen_pos = rng.integers(0, 4, size=vcpu_vm.size).astype(np.int64)
    for clean_only in (False, True):
        wanted = (state == CLEAN) | (state == PREFETCHED)
        if not clean_only:
            wanted |= state == DIRTY
        has = np.array([wanted[vm_base[m] : vm_base[m + 1]].any() for m in range(n_vms)])
        looked_at, behind = vcpus_to_look_at(state, vm_base, clean_only, vcpu_vm, rows, seen_pos)
        assert looked_at.tolist() == has[vcpu_vm].tolist()
        want_behind = np.flatnonzero(has[vcpu_vm] & (rows[:, C_POS] != seen_pos))
        assert behind.tolist() == want_behind.tolist()


@pytest.mark.parametrize("seed", range(20))
def test_the_rows_hold_window_ends_segments_and_costs(seed: int) -> None:
    """Each row gets its window's start and end (-1 for a window shorter than the
    look-ahead), its time map's segments and its time per reference; a vCPU not looked at
    gets no segments and a cost of 1. The other columns are left alone."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 9))
    window_refs = 64
    win_start = rng.integers(0, 1000, size=n).astype(np.int64)
    win_size = rng.choice([-1, 10, 63, 64], size=n).astype(np.int64)
    seg_len = rng.integers(0, 5, size=n).astype(np.int64)
    slot_off = np.concatenate([[0], np.cumsum(seg_len + rng.integers(0, 3, size=n))])
    ns_per_ref = rng.integers(1, 3000, size=n).astype(np.int64)
    looked_at = rng.random(n) < 0.6
    rows = rng.integers(0, 100, size=(n, N_COLUMNS)).astype(np.int64)
    before = rows.copy()
    fill_rows(rows, looked_at, win_start, win_size, window_refs, slot_off, seg_len, ns_per_ref)
    want_end = np.where(win_size >= window_refs, win_start + win_size, -1)
    assert rows[:, C_WINDOW_END].tolist() == want_end.tolist()
    assert rows[:, C_WIN_START].tolist() == win_start.tolist()
    assert rows[:, C_SEG_LO].tolist() == slot_off[:-1].tolist()
    assert rows[:, C_SEG_HI].tolist() == (slot_off[:-1] + np.where(looked_at, seg_len, 0)).tolist()
    assert rows[:, C_CPU_NS].tolist() == np.where(looked_at, ns_per_ref, 1).tolist()
    filled = (C_WIN_START, C_WINDOW_END, C_SEG_LO, C_SEG_HI, C_CPU_NS)
    others = [c for c in range(N_COLUMNS) if c not in filled]
    assert (rows[:, others] == before[:, others]).all()


@pytest.mark.parametrize("seed", range(20))
def test_the_vcpus_behind_are_caught_up_through_their_windows_or_left_to_redraw(
    seed: int,
) -> None:
    """look_and_catch_up looks at the vCPUs vcpus_to_look_at does; each one behind whose
    window reaches (drawn, at most three quarters gone by) has its next uses moved on as
    advance_next_use moves them (their bytes too) and its seen position set; the others
    behind come back, ascending, untouched, to be drawn afresh; no vCPU not behind is
    touched."""
    rng = np.random.default_rng(seed)
    n_vms = int(rng.integers(1, 5))
    vm_pages = 12
    vm_base = np.arange(n_vms + 1, dtype=np.int64) * vm_pages
    states = np.array([0, CLEAN, DIRTY, PREFETCHED, SWAPPED], dtype=np.int8)
    state = rng.choice(states, size=int(vm_base[-1]), p=[0.4, 0.1, 0.1, 0.1, 0.3])
    vcpu_vm = np.sort(rng.integers(0, n_vms, size=int(rng.integers(1, 7)))).astype(np.int64)
    n, width = vcpu_vm.size, 40
    next_off = np.arange(n + 1, dtype=np.int64) * vm_pages
    win_start = rng.integers(0, 50, size=n).astype(np.int64)
    win_size = rng.choice([-1, 8, 20, 40], size=n).astype(np.int64)
    win_rels = rng.integers(0, vm_pages, size=(n, width)).astype(np.int64)
    win_links = rng.integers(0, 1000, size=(n, width)).astype(np.int64)
    seen_pos = win_start + rng.integers(0, 4, size=n)
    rows = np.zeros((n, N_COLUMNS), dtype=np.int64)
    rows[:, C_POS] = seen_pos + rng.choice([0, 1, 3, 6, 16, 31], size=n)
    next_flat = rng.integers(0, 1000, size=int(next_off[-1])).astype(np.int64)
    coarse = rng.integers(0, 256, size=next_flat.size).astype(np.uint8)
    for clean_only in (False, True):
        want_looked, behind = vcpus_to_look_at(state, vm_base, clean_only, vcpu_vm, rows, seen_pos)
        want_next, want_seen, want_redraw = next_flat.copy(), seen_pos.copy(), []
        want_coarse = coarse.copy()
        for v in behind.tolist():
            start, size, pos = int(win_start[v]), int(win_size[v]), int(rows[v, C_POS])
            if size < 0 or pos - start > size * 3 // 4:
                want_redraw.append(v)
                continue
            nxt = want_next[next_off[v] : next_off[v + 1]]
            cv = want_coarse[next_off[v] : next_off[v + 1]]
            for i in range(int(seen_pos[v]) - start, pos - start):
                nxt[win_rels[v, i]] = win_links[v, i]
                cv[win_rels[v, i]] = coarse_use(int(win_links[v, i]), start, 2)
            want_seen[v] = pos
        got = [a.copy() for a in (seen_pos, next_flat, coarse)]
        looked_at, redraw = look_and_catch_up(
            state, vm_base, clean_only, vcpu_vm, rows, got[0], win_start, win_size, win_rels,
            win_links, got[1], next_off, got[2], 2,
        )  # fmt: skip
        assert looked_at.tolist() == want_looked.tolist()
        assert redraw.tolist() == want_redraw
        assert got[0].tolist() == want_seen.tolist()
        assert got[1].tolist() == want_next.tolist()
        assert got[2].tolist() == want_coarse.tolist()
