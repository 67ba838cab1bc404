"""The oracle's table of its vCPUs for a victim selection, compiled: which vCPUs to look at
and their rows (C_* columns of next_use) filled in two calls, where numpy took a dozen."""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.hotpath.next_use import C_CPU_NS, C_POS, C_SEG_HI, C_SEG_LO, C_WINDOW_END, _evictable


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
def fill_rows(
    rows: np.ndarray, looked_at: np.ndarray, win_start: np.ndarray, win_size: np.ndarray,
    window_refs: int, slot_off: np.ndarray, seg_len: np.ndarray, ns_per_ref: np.ndarray,
) -> None:  # fmt: skip
    """Each vCPU's window end (-1 where its window is short: the stream may end inside),
    its time map's segments (none for a vCPU not looked at) and time per reference (1 for
    one not looked at) into its row."""
    for v in range(rows.shape[0]):
        rows[v, C_WINDOW_END] = win_start[v] + win_size[v] if win_size[v] >= window_refs else -1
        rows[v, C_SEG_LO] = slot_off[v]
        rows[v, C_SEG_HI] = slot_off[v] + (seg_len[v] if looked_at[v] else 0)
        rows[v, C_CPU_NS] = ns_per_ref[v] if looked_at[v] else 1
