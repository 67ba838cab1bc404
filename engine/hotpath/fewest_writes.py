"""The oracle's last cut of its victims, compiled: of the candidates ranked farthest first, the
ones that need the fewest write operations (one numba pass where numpy took a dozen calls),
also straight from the candidates' keys, ranking only the pages kept."""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.hotpath.next_use import ascending_within_equal, latest_keys
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
    kth = -np.partition(-keys, m - 1)[m - 1]  # the m-th latest key
    above = np.flatnonzero(keys > kth)  # the m latest are these and some of the tied
    tie = np.flatnonzero(keys == kth)
    tied = tie[np.argsort(last_use_ns[pages[tie]], kind="mergesort")][: m - above.size]
    dirty_above = state[pages[above]] == DIRTY
    clean_above = above[~dirty_above]
    if clean_above.size >= n:  # the n latest clean pages
        return _ranked(_latest_of(n, clean_above, keys), keys)
    out = np.empty(n, dtype=np.int64)
    k = clean_above.size
    out[:k] = _ranked(clean_above, keys)
    for i in tied:  # the tied come after every page above them, least recent use first
        if k < n and state[pages[i]] != DIRTY:
            out[k] = i
            k += 1
    if k == n:
        return out
    # Then each VM's dirty pages, the VM with most first: in rank order, those above the
    # m-th key before the tied; only those taken are sorted.
    dirty_idx = above[dirty_above]
    dirty_vms = vm_of[pages[dirty_idx]]
    tied_dirty = tied[state[pages[tied]] == DIRTY]
    count = np.bincount(np.concatenate((dirty_vms, vm_of[pages[tied_dirty]])).astype(np.int64))
    for vm in np.argsort(-count, kind="mergesort"):  # stable: equal counts by VM
        if count[vm] == 0:
            break
        mine = dirty_idx[dirty_vms == vm]
        if n - k <= mine.size:
            out[k:] = _ranked(_latest_of(n - k, mine, keys), keys)
            return out
        out[k : k + mine.size] = _ranked(mine, keys)
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
    """The n of the (ascending) indices idx with the latest keys, equal keys by index."""
    k = keys[idx]
    kth = -np.partition(-k, n - 1)[n - 1]
    above = idx[k > kth]
    return np.concatenate((above, idx[k == kth][: n - above.size]))


@njit(cache=True, nogil=True)
def _ranked(idx: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """The indices idx by latest key first, equal keys by index (ascending)."""
    out = idx[np.argsort(-keys[idx])]
    ascending_within_equal(out, keys)
    return out
