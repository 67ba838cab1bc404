"""The oracle's last cut of its victims, compiled: of the candidates ranked farthest first, the
ones that need the fewest write operations (one numba pass where numpy took a dozen calls)."""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.page_states import DIRTY


@njit(cache=True, nogil=True)
def fewest_writes(ranked: np.ndarray, n: int, state: np.ndarray, vm_of: np.ndarray) -> np.ndarray:
    """n of the ranked pages: the clean ones first, then the dirty ones of the VM with most
    dirty pages among them, then the next such VM (equal counts: the lower VM first), each
    group in ranked order. A write operation covers one VM's pages, so this empties the
    fewest of them. All of ranked when it holds no more than n, the first n when none is
    dirty."""
    m = ranked.size
    if m <= n:
        return ranked.copy()
    n_vms = 0
    for i in range(m):
        if vm_of[ranked[i]] >= n_vms:
            n_vms = vm_of[ranked[i]] + 1
    count = np.zeros(n_vms, dtype=np.int64)
    for i in range(m):
        if state[ranked[i]] == DIRTY:
            count[vm_of[ranked[i]]] += 1
    out = np.empty(n, dtype=np.int64)
    k = 0
    for i in range(m):  # clean, in ranked order
        if k == n:
            return out
        if state[ranked[i]] != DIRTY:
            out[k] = ranked[i]
            k += 1
    for vm in np.argsort(-count, kind="mergesort"):  # stable: equal counts by VM
        if count[vm] == 0:
            break
        for i in range(m):
            if k == n:
                return out
            if state[ranked[i]] == DIRTY and vm_of[ranked[i]] == vm:
                out[k] = ranked[i]
                k += 1
    return out[:k]
