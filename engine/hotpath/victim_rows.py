"""The oracle's table of its vCPUs for a victim selection, compiled: which vCPUs to look at
(their next uses brought up to their positions on the way) and their rows (C_* columns of
next_use) filled in two calls, where numpy and a Python loop over the vCPUs took a dozen."""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.hotpath.lookahead import advance_next_use, must_redraw
from engine.hotpath.next_use import (
    C_CPU_NS,
    C_POS,
    C_SEG_HI,
    C_SEG_LO,
    C_WIN_START,
    C_WINDOW_END,
    _evictable,
)


@njit(cache=True, nogil=True)
def vcpus_to_look_at(
    state: np.ndarray, vm_base: np.ndarray, clean_only: bool, vcpu_vm: np.ndarray,
    rows: np.ndarray, seen_pos: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(looked_at, behind): per vCPU, whether its VM has an evictable page (clean or
    prefetched only if clean_only; each VM's scan stops at its first); and the looked-at
    vCPUs whose next uses are not brought up to their position (rows' C_POS) yet. Only
    those need their windows moved on: the selection reads no other vCPU's."""
    n_vms = vm_base.size - 1
    has = np.zeros(n_vms, dtype=np.bool_)
    for vm in range(n_vms):
        for p in range(vm_base[vm], vm_base[vm + 1]):
            if _evictable(state[p], clean_only):
                has[vm] = True
                break
    looked_at = np.zeros(vcpu_vm.size, dtype=np.bool_)
    behind = np.empty(vcpu_vm.size, dtype=np.int64)
    n_behind = 0
    for v in range(vcpu_vm.size):
        looked_at[v] = has[vcpu_vm[v]]
        if looked_at[v] and rows[v, C_POS] != seen_pos[v]:
            behind[n_behind] = v
            n_behind += 1
    return looked_at, behind[:n_behind]


@njit(cache=True, nogil=True)
def look_and_catch_up(
    state: np.ndarray, vm_base: np.ndarray, clean_only: bool, vcpu_vm: np.ndarray,
    rows: np.ndarray, seen_pos: np.ndarray, win_start: np.ndarray, win_size: np.ndarray,
    win_rels: np.ndarray, win_links: np.ndarray, next_flat: np.ndarray, next_off: np.ndarray,
    coarse: np.ndarray, shift: int,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(looked_at, redraw): vcpus_to_look_at's vCPUs, with the next uses (next_flat at
    next_off[v], and their bytes in coarse, as advance_next_use keeps them) of each one
    behind moved on to its position (rows' C_POS) through its
    window (row v of win_rels/win_links, from win_start[v], win_size[v] long; seen_pos
    updated), as the oracle's _refresh does, in the same call; redraw: those behind whose
    window must be drawn afresh first (none yet, or more than three quarters gone by),
    left to the caller, which reads their streams."""
    looked_at, behind = vcpus_to_look_at(state, vm_base, clean_only, vcpu_vm, rows, seen_pos)
    redraw = np.empty(behind.size, dtype=np.int64)
    n_redraw = 0
    for v in behind:
        pos, start, size = rows[v, C_POS], win_start[v], win_size[v]
        if must_redraw(pos, start, size):
            redraw[n_redraw] = v
            n_redraw += 1
            continue
        lo, hi = next_off[v], next_off[v + 1]
        advance_next_use(next_flat[lo:hi], win_rels[v], win_links[v], seen_pos[v] - start,
                         pos - start, coarse[lo:hi], start, shift)  # fmt: skip
        seen_pos[v] = pos
    return looked_at, redraw[:n_redraw]


@njit(cache=True, nogil=True)
def fill_rows(
    rows: np.ndarray, looked_at: np.ndarray, win_start: np.ndarray, win_size: np.ndarray,
    window_refs: int, slot_off: np.ndarray, seg_len: np.ndarray, ns_per_ref: np.ndarray,
) -> None:  # fmt: skip
    """Each vCPU's window start and end (-1 where its window is short: the stream may end
    inside), its time map's segments (none for a vCPU not looked at) and time per reference (1 for
    one not looked at) into its row."""
    for v in range(rows.shape[0]):
        rows[v, C_WIN_START] = win_start[v]
        rows[v, C_WINDOW_END] = win_start[v] + win_size[v] if win_size[v] >= window_refs else -1
        rows[v, C_SEG_LO] = slot_off[v]
        rows[v, C_SEG_HI] = slot_off[v] + (seg_len[v] if looked_at[v] else 0)
        rows[v, C_CPU_NS] = ns_per_ref[v] if looked_at[v] else 1
