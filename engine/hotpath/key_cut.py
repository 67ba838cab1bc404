"""The oracle's victims from a key cut (compiled): only the pages whose key can reach a cut
near the last call's get their next-use times, instead of a shortlist of every VM's latest.

In a VM with one vCPU whose use time never decreases with the stream position, the pages
with a key of at least `cut` are those used at or after one position, found by bisection:
the pass over the pool keeps them by an integer comparison and times nothing else. When
at least n pages reach the cut, the n latest keys overall are among them, with every page
that ties with the n-th: the choice over them is the choice over every candidate
(`farthest_pages`' exactly). When fewer do, nothing is chosen and the caller cuts lower."""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.hotpath.next_use import (
    C_NEXT_OFF,
    C_POS,
    C_WINDOW_END,
    _evictable,
    _monotone,
    _time_at,
    keys_of,
    latest_keys,
)
from engine.pool import DIRTY

# How far past a vCPU's position the bisection looks (look-ahead windows hold at most 2**24
# references); small enough that no time in it overflows.
SEARCH_REFS = 1 << 32
# The next cut leaves room for this many pages more than twice the victims asked for: the
# next call finds the latest ones evicted and the others' uses moved on.
CUT_MARGIN = 512


@njit(cache=True, nogil=True)
def _first_position_at(
    cut: int, row: np.ndarray, starts: np.ndarray, cum: np.ndarray, share: float,
    unplanned_ns: int, far: int,
) -> int:  # fmt: skip
    """The least stream position from which the use time of the vCPU of table row `row`
    (never decreasing with the position) is at least cut, among those a page's next use
    can be: up to SEARCH_REFS past the vCPU (windows are far shorter), or a use that never
    comes (far). Past the ones searched, the first position timed far; far + 1 for none."""
    top = row[C_POS] + SEARCH_REFS
    if _time_at(top, row, starts, cum, share, unplanned_ns, far) < cut:
        return row[C_POS] + far // 2 if far >= cut else far + 1
    lo, hi = 0, top
    while lo < hi:
        mid = (lo + hi) // 2
        if _time_at(mid, row, starts, cum, share, unplanned_ns, far) >= cut:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(cache=True, nogil=True)
def farthest_above_cut(
    n: int,
    cut: int,
    state: np.ndarray,
    clean_only: bool,
    vm_base: np.ndarray,
    vm_vcpu_off: np.ndarray,
    vm_vcpus: np.ndarray,
    vcpu_rows: np.ndarray,
    next_pos: np.ndarray,
    starts: np.ndarray,
    cum: np.ndarray,
    share: float,
    unplanned_ns: int,
    far: int,
    dirty_ns: int,
    last_use_ns: np.ndarray,
    work: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, bool, int]:
    """(pages, keys, chosen, next cut): farthest_pages' choice of n victims when at least n
    candidates have a key of at least `cut` (chosen; always when cut <= -far, which takes
    every candidate), else none. The next cut: the (2n + CUT_MARGIN)-th latest key looked
    at, to start the next call of this size from.
    `work`: a row of scratch space as long as the pool."""
    n_vms = vm_base.size - 1
    if n <= 0:
        return work[0, :0].copy(), work[0, :0].copy(), True, cut
    short = work[0]
    vm_first = np.zeros(n_vms + 1, dtype=np.int64)
    n_out = 0
    for vm in range(n_vms):
        vm_first[vm] = n_out
        lo, hi = vm_base[vm], vm_base[vm + 1]
        one_vcpu = vm_vcpu_off[vm + 1] - vm_vcpu_off[vm] == 1
        row = vcpu_rows[vm_vcpus[vm_vcpu_off[vm]] if one_vcpu else 0]
        if cut <= -far or not (one_vcpu and _monotone(row, starts, cum, share)):
            for p in range(lo, hi):  # every candidate: its key is known only once timed
                if _evictable(state[p], clean_only):
                    short[n_out] = p
                    n_out += 1
            continue
        clean_from = _first_position_at(cut, row, starts, cum, share, unplanned_ns, far)
        dirty_from = _first_position_at(cut + dirty_ns, row, starts, cum, share, unplanned_ns, far)
        end = row[C_WINDOW_END]
        off = row[C_NEXT_OFF] - lo
        for p in range(lo, hi):
            s = state[p]
            if not _evictable(s, clean_only):
                continue
            nxt = next_pos[off + p]
            at = end if 0 <= end < nxt else nxt
            if at >= (dirty_from if s == DIRTY else clean_from):
                short[n_out] = p
                n_out += 1
    vm_first[n_vms] = n_out
    pages = short[:n_out].copy()
    keys = keys_of(
        pages, vm_first, state, vm_base, vm_vcpu_off, vm_vcpus, vcpu_rows, next_pos, starts,
        cum, share, unplanned_ns, far, dirty_ns,
    )  # fmt: skip
    reach = np.count_nonzero(keys >= cut)
    if n_out == 0:
        return pages, keys, cut <= -far, cut
    margin = min(2 * n + CUT_MARGIN, n_out)
    next_cut = -np.partition(-keys, margin - 1)[margin - 1]
    if reach < n and cut > -far:
        return pages[:0], keys[:0], False, next_cut
    chosen = latest_keys(n, pages, keys, last_use_ns)
    return pages[chosen], keys[chosen], True, next_cut
