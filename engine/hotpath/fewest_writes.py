"""The oracle's last cut of its victims, compiled: of the candidates ranked farthest first, the
ones that need the fewest write operations (one numba pass where numpy took a dozen calls),
also straight from the candidates' keys, ranking only the pages kept."""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.hotpath.next_use import latest_keys, ranked
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


@njit(cache=True, nogil=True)
def fewest_writes_of_latest(
    n: int,
    m: int,
    pages: np.ndarray,
    keys: np.ndarray,
    last_use_ns: np.ndarray,
    state: np.ndarray,
    vm_of: np.ndarray,
) -> np.ndarray:
    """Indices into pages of fewest_writes(pages[latest_keys(m, ...)], n, ...): n of the m
    latest keys with the fewest write operations, in the same order, without ranking all m
    (only the pages it keeps are sorted: reclaim ranks eight times the victims it takes)."""
    m = min(m, pages.size)
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    if m <= n:
        return latest_keys(m, pages, keys, last_use_ns)
    kth = np.partition(keys, keys.size - m)[keys.size - m]  # the m-th latest key
    # The m latest are those above it and some of the tied: one pass sorts them out (in
    # index order), the clean from the dirty above.
    clean_above = np.empty(m, dtype=np.int64)  # (fewer than m keys are above the m-th)
    dirty_idx = np.empty(m, dtype=np.int64)
    tie = np.empty(keys.size, dtype=np.int64)
    n_clean = n_dirty = n_tie = 0
    for i in range(keys.size):
        if keys[i] > kth:
            if state[pages[i]] == DIRTY:
                dirty_idx[n_dirty] = i
                n_dirty += 1
            else:
                clean_above[n_clean] = i
                n_clean += 1
        elif keys[i] == kth:
            tie[n_tie] = i
            n_tie += 1
    clean_above, dirty_idx, tie = clean_above[:n_clean], dirty_idx[:n_dirty], tie[:n_tie]
    if n_clean >= n:  # the n latest clean pages
        return ranked(_latest_of(n, clean_above, keys), keys)
    tied = tie[np.argsort(last_use_ns[pages[tie]], kind="mergesort")][: m - n_clean - n_dirty]
    out = np.empty(n, dtype=np.int64)
    k = clean_above.size
    out[:k] = ranked(clean_above, keys)
    for i in tied:  # the tied come after every page above them, least recent use first
        if k < n and state[pages[i]] != DIRTY:
            out[k] = i
            k += 1
    if k == n:
        return out
    # Then each VM's dirty pages, the VM with most first: in rank order, those above the
    # m-th key before the tied; only those taken are sorted.
    dirty_vms = vm_of[pages[dirty_idx]]
    tied_dirty = tied[state[pages[tied]] == DIRTY]
    count = np.bincount(np.concatenate((dirty_vms, vm_of[pages[tied_dirty]])).astype(np.int64))
    for vm in np.argsort(-count, kind="mergesort"):  # stable: equal counts by VM
        if count[vm] == 0:
            break
        mine = dirty_idx[dirty_vms == vm]
        if n - k <= mine.size:
            out[k:] = ranked(_latest_of(n - k, mine, keys), keys)
            return out
        out[k : k + mine.size] = ranked(mine, keys)
        k += mine.size
        for i in tied_dirty:
            if k < n and vm_of[pages[i]] == vm:
                out[k] = i
                k += 1
        if k == n:
            return out
    return out[:k]


@njit(cache=True, nogil=True)
def _latest_of(n: int, idx: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """The n of the (ascending) indices idx with the latest keys, equal keys by index: those
    above the n-th latest key, then as many of those at it as are wanted, each in idx's
    order."""
    k = keys[idx]
    kth = np.partition(k, k.size - n)[k.size - n]
    out = np.empty(n, dtype=np.int64)
    j = 0
    for i in range(idx.size):  # (fewer than n are above the n-th)
        if k[i] > kth:
            out[j] = idx[i]
            j += 1
    for i in range(idx.size):
        if j == n:
            break
        if k[i] == kth:
            out[j] = idx[i]
            j += 1
    return out
