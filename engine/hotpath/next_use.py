"""Compiled next-use times for the clairvoyant policy: from "k references from now" to the
time a vCPU reaches them on its planned CPU time.

One loop per page in place of a dozen numpy temporaries per vCPU; the arithmetic (integer
products, then one float product truncated) is the numpy version's, so the times and hence
the oracle's victims are identical."""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.hotpath.oldest import bit_length
from engine.pool import CLEAN, DIRTY, PREFETCHED


@njit(cache=True, nogil=True, inline="always")
def _one_use_time(
    k: int,
    starts: np.ndarray,
    cum: np.ndarray,
    a: int,
    b: int,
    cpu: int,
    share: float,
    unplanned_ns: int,
) -> int:
    """When the vCPU reaches k references from now: inside a planned segment (its segments
    are starts[a:b], with cumulative capacities cum[a:b]) at its CPU cost per reference, past
    the plan at that cost times the pCPU share."""
    n = b - a
    if n == 0:
        return unplanned_ns + int(k * cpu * share)
    j = 0  # segments whose capacity ends at or before k (a plan has a few: no bisection)
    while j < n and cum[a + j] <= k:
        j += 1
    if j < n:
        before = cum[a + j - 1] if j > 0 else 0
        return int(starts[a + j] + (k - before) * cpu)
    last_len = cum[b - 1] - (cum[b - 2] if n > 1 else 0)
    last_end = starts[b - 1] + last_len * cpu
    return int(last_end + int((k - cum[b - 1]) * cpu * share))


@njit(cache=True, nogil=True)
def planned_segments(
    v: int,
    now_ns: int,
    cpu: int,
    runs: bool,
    begin_ns: int,
    end_ns: int,
    tolerance_ns: int,
    plan_vcpu: np.ndarray,
    plan_start_ns: np.ndarray,
    plan_end_ns: np.ndarray,
    made_ns: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(segment starts, cumulative reference capacity) of vCPU v's planned CPU time from
    now at cpu ns per reference: the rest of its slice [begin_ns, end_ns) if it runs, then
    its planned slices that end after that (or after now) and are not too far overdue (a
    slice due but not yet begun, a late dispatch, still counts)."""
    starts = np.empty(plan_vcpu.size + 1, dtype=np.int64)
    caps = np.empty(plan_vcpu.size + 1, dtype=np.int64)
    n = 0
    after = now_ns
    if runs:
        starts[0] = begin_ns
        caps[0] = max(0, end_ns - begin_ns) // cpu
        n = 1
        after = end_ns - tolerance_ns
    overdue = after - (now_ns - made_ns)
    for i in range(plan_vcpu.size):
        if plan_vcpu[i] == v and plan_end_ns[i] > after and plan_start_ns[i] >= overdue:
            s = max(plan_start_ns[i], now_ns)
            starts[n] = s
            caps[n] = max(0, plan_end_ns[i] - s) // cpu
            n += 1
    return starts[:n].copy(), np.cumsum(caps[:n])


@njit(cache=True, nogil=True)
def use_times(
    ahead_refs: np.ndarray,
    starts: np.ndarray,
    cum: np.ndarray,
    cpu: int,
    share: float,
    unplanned_ns: int,
    far: int,
) -> np.ndarray:
    """_one_use_time of each entry of ahead_refs; an entry at or past far // 2 gives far."""
    out = np.empty(ahead_refs.size, dtype=np.int64)
    for i in range(ahead_refs.size):
        k = ahead_refs[i]
        out[i] = (
            far
            if k >= far // 2
            else _one_use_time(k, starts, cum, 0, cum.size, cpu, share, unplanned_ns)
        )
    return out


@njit(cache=True, nogil=True)
def lower_to_next_use(
    out: np.ndarray,
    next_pos: np.ndarray,
    rel: np.ndarray,
    window_end: int,
    pos: int,
    starts: np.ndarray,
    cum: np.ndarray,
    cpu: int,
    share: float,
    unplanned_ns: int,
    far: int,
) -> None:
    """out[i] = min(out[i], the time this vCPU next uses page rel[i]): its next use's stream
    position (no later than window_end when window_end >= 0) turned into a time."""
    for i in range(rel.size):
        t = _next_use_time(
            next_pos[rel[i]], window_end, pos, starts, cum, 0, cum.size, cpu, share,
            unplanned_ns, far,
        )  # fmt: skip
        if t < out[i]:
            out[i] = t


@njit(cache=True, nogil=True, inline="always")
def _next_use_time(
    nxt: int,
    window_end: int,
    pos: int,
    starts: np.ndarray,
    cum: np.ndarray,
    a: int,
    b: int,
    cpu: int,
    share: float,
    unplanned_ns: int,
    far: int,
) -> int:
    """The time a vCPU at stream position pos reaches position nxt (a page's next use; no
    later than window_end when window_end >= 0): far for a use that never comes."""
    if window_end >= 0 and nxt > window_end:
        nxt = window_end
    if nxt >= far:
        return far
    k = nxt - pos
    if k >= far // 2:
        return far
    return _one_use_time(k, starts, cum, a, b, cpu, share, unplanned_ns)


@njit(cache=True, nogil=True)
def first_swapped(
    rel: np.ndarray,
    lo: int,
    hi: int,
    base: int,
    state: np.ndarray,
    swapped: int,
    skip: int,
    limit: int,
    seen: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The distinct pages (global: rel + base) of references rel[lo:hi] whose state is
    `swapped`, other than page `skip`, in the order the stream first uses them, at most
    `limit` of them; and each one's first reference, counted from lo. What a fault read
    brings beside the faulting page, and what prefetch looks at. `seen`: a zeroed flag per
    page of the pool, zeroed again on return."""
    pages = np.empty(min(max(0, limit), max(0, hi - lo)), dtype=np.int64)
    first = np.empty(pages.size, dtype=np.int64)
    n = 0
    for i in range(lo, hi):
        if n >= pages.size:
            break
        g = np.int64(rel[i]) + base
        if g == skip or state[g] != swapped or seen[g]:
            continue
        seen[g] = True
        pages[n] = g
        first[n] = i - lo
        n += 1
    for j in range(n):
        seen[pages[j]] = False
    return pages[:n], first[:n]


@njit(cache=True, nogil=True, inline="always")
def _evictable(s: int, clean_only: bool) -> bool:
    """A page in state s is a victim candidate (as engine.policies.victims.candidates)."""
    if s < CLEAN or s > PREFETCHED:  # CLEAN, DIRTY, PREFETCHED: the states holding a frame
        return False
    return not (clean_only and s == DIRTY)


# Columns of the per-vCPU table farthest_pages reads (one int64 row per vCPU).
C_NEXT_OFF = 0  # where its next-use positions start in the flat next_pos array
C_WINDOW_END = 1  # its window's end position (-1: the stream may end inside the window)
C_POS = 2  # its stream position now
C_SEG_LO = 3  # its planned segments: starts/cum[C_SEG_LO:C_SEG_HI]
C_SEG_HI = 4
C_CPU_NS = 5  # its time per reference
C_WIN_START = 6  # its window's start position (where its next uses' bytes count from)
N_COLUMNS = 7


@njit(cache=True, nogil=True, inline="always")
def _time_at(
    nxt: int, row: np.ndarray, starts: np.ndarray, cum: np.ndarray, share: float,
    unplanned_ns: int, far: int,
) -> int:  # fmt: skip
    """_next_use_time for the vCPU of table row `row`."""
    return _next_use_time(
        nxt, row[C_WINDOW_END], row[C_POS], starts, cum, row[C_SEG_LO], row[C_SEG_HI],
        row[C_CPU_NS], share, unplanned_ns, far,
    )  # fmt: skip


@njit(cache=True, nogil=True)
def _monotone(row: np.ndarray, starts: np.ndarray, cum: np.ndarray, share: float) -> bool:
    """Whether the vCPU's use time never decreases as the reference count grows. Inside a
    segment it grows by the CPU cost per reference and past the plan by a non-negative float
    product, so it is enough that no segment begins before the previous one's last use."""
    a, b, cpu = row[C_SEG_LO], row[C_SEG_HI], row[C_CPU_NS]
    for j in range(a, b):
        k = cum[j]
        if k > 0 and _one_use_time(k - 1, starts, cum, a, b, cpu, share, 0) > _one_use_time(
            k, starts, cum, a, b, cpu, share, 0
        ):
            return False
    return True


@njit(cache=True, nogil=True)
def _shortlist_group(
    out: np.ndarray,
    n_out: int,
    pages: np.ndarray,
    at: np.ndarray,
    m: int,
    n: int,
    row: np.ndarray,
    starts: np.ndarray,
    cum: np.ndarray,
    share: float,
    unplanned_ns: int,
    far: int,
    last_use_ns: np.ndarray,
) -> int:
    """Append to out[n_out:] those of a group's m pages (one VM's clean or dirty candidates,
    in page order, next used at window-clamped positions at[:m]) that can be among the n
    latest keys, in page order; returns the new length. The vCPU's use time T must never
    decrease with the position.

    With P the n-th latest position of the group, at least n of its pages have a key of at
    least T(P) (the group's dirty cost alike for all), so the n-th latest key overall is at
    least T(P). A page used before P has a key of at most T(P - 1): if T(P - 1) < T(P) it
    can neither be among the n latest nor tie with the n-th. Else the group stays whole.

    The pages used at P share one key. When more than n do, that key is at most the n-th
    latest (more than n pages have it), so of them only those the selection takes at a tie
    can be chosen: the n least recently used (equal times: the lower page first)."""
    keep_all = m <= n
    cut = 0
    if not keep_all:
        cut = np.partition(at[:m], m - n)[m - n]  # P
        before = _time_at(cut - 1, row, starts, cum, share, unplanned_ns, far)
        keep_all = before >= _time_at(cut, row, starts, cum, share, unplanned_ns, far)
    if keep_all:
        for i in range(m):
            out[n_out] = pages[i]
            n_out += 1
        return n_out
    n_at_cut = 0
    for i in range(m):
        n_at_cut += at[i] == cut
    if n_at_cut <= n:
        for i in range(m):
            if at[i] >= cut:
                out[n_out] = pages[i]
                n_out += 1
        return n_out
    # The n-th least recent use among the pages at P; those at it go in page order.
    used = np.empty(n_at_cut, dtype=np.int64)
    j = 0
    for i in range(m):
        if at[i] == cut:
            used[j] = last_use_ns[pages[i]]
            j += 1
    oldest = np.partition(used, n - 1)[n - 1]
    at_oldest = n - np.count_nonzero(used < oldest)  # of the pages last used at `oldest`
    for i in range(m):
        if at[i] > cut:
            out[n_out] = pages[i]
            n_out += 1
        elif at[i] == cut:
            lu = last_use_ns[pages[i]]
            if lu < oldest or (lu == oldest and at_oldest > 0):
                at_oldest -= lu == oldest
                out[n_out] = pages[i]
                n_out += 1
    return n_out


@njit(cache=True, nogil=True)
def _merge_runs(a: np.ndarray, lo: int, mid: int, hi: int, tmp: np.ndarray) -> None:
    """Merge the ascending runs a[lo:mid] and a[mid:hi] into a[lo:hi] (tmp: scratch room
    for mid - lo values). Linear, where sorting the whole would not be."""
    n_left = mid - lo
    tmp[:n_left] = a[lo:mid]
    i, j, k = 0, mid, lo
    while i < n_left and j < hi:
        if tmp[i] <= a[j]:
            a[k] = tmp[i]
            i += 1
        else:
            a[k] = a[j]
            j += 1
        k += 1
    while i < n_left:  # what is left of the right run is in place already
        a[k] = tmp[i]
        i += 1
        k += 1


@njit(cache=True, nogil=True)
def farthest_pages(
    n: int,
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
) -> tuple[np.ndarray, np.ndarray]:
    """Up to n evictable pages with the latest next-use times (a dirty page's brought
    forward by dirty_ns, the write its eviction costs), and those times.

    A page's time is the soonest over its VM's vCPUs (vm_vcpus[vm_vcpu_off[vm]:...]; row v of
    vcpu_rows holds vCPU v's figures, C_* columns). Order: the latest time first, equal
    times by page; among the pages whose time is the n-th latest (the boundary), the least
    recently used, then the lowest page, are taken.

    Only a shortlist gets its times computed: in a VM with one vCPU whose use time never
    decreases with the position, the pages of each group (clean, dirty) used before the
    group's n-th latest next use cannot be among the n latest overall (_shortlist_group
    says why), nor, of more than n pages sharing the group's n-th latest position, those
    the tie rule would not take. The shortlist holds every page the selection over all
    candidates chooses, so the selection over it is that selection. `work`: five rows of
    scratch space as long as the pool (no allocation of that size per call)."""
    n_vms = vm_base.size - 1
    if n <= 0:
        return work[0, :0].copy(), work[0, :0].copy()
    short, clean_pages, dirty_pages, clean_at, dirty_at = (
        work[0],
        work[1],
        work[2],
        work[3],
        work[4],
    )
    vm_first = np.zeros(n_vms + 1, dtype=np.int64)  # each VM's shortlist: short[vm_first[vm]:]
    n_out = 0
    for vm in range(n_vms):
        vm_first[vm] = n_out
        lo, hi = vm_base[vm], vm_base[vm + 1]
        one_vcpu = vm_vcpu_off[vm + 1] - vm_vcpu_off[vm] == 1
        row = vcpu_rows[vm_vcpus[vm_vcpu_off[vm]] if one_vcpu else 0]
        if not (one_vcpu and _monotone(row, starts, cum, share)):  # no order by position
            for p in range(lo, hi):
                if _evictable(state[p], clean_only):
                    short[n_out] = p
                    n_out += 1
            continue
        end = row[C_WINDOW_END]
        off = row[C_NEXT_OFF] - lo  # page p's next use: next_pos[off + p]
        m_clean = m_dirty = 0
        for p in range(lo, hi):
            s = state[p]
            if not _evictable(s, clean_only):
                continue
            nxt = next_pos[off + p]
            at = end if 0 <= end < nxt else nxt
            if s == DIRTY:
                dirty_pages[m_dirty] = p
                dirty_at[m_dirty] = at
                m_dirty += 1
            else:
                clean_pages[m_clean] = p
                clean_at[m_clean] = at
                m_clean += 1
        n_out = _shortlist_group(
            short, n_out, clean_pages, clean_at, m_clean, n, row, starts, cum, share,
            unplanned_ns, far, last_use_ns,
        )  # fmt: skip
        mid = n_out
        n_out = _shortlist_group(
            short, n_out, dirty_pages, dirty_at, m_dirty, n, row, starts, cum, share,
            unplanned_ns, far, last_use_ns,
        )  # fmt: skip
        _merge_runs(short, vm_first[vm], mid, n_out, clean_pages)  # back in page order
    vm_first[n_vms] = n_out
    pages = short[:n_out].copy()
    keys = keys_of(
        pages, vm_first, state, vm_base, vm_vcpu_off, vm_vcpus, vcpu_rows, next_pos, starts,
        cum, share, unplanned_ns, far, dirty_ns,
    )  # fmt: skip
    chosen = latest_keys(n, pages, keys, last_use_ns)
    return pages[chosen], keys[chosen]


@njit(cache=True, nogil=True)
def keys_of(
    pages: np.ndarray,
    vm_first: np.ndarray,
    state: np.ndarray,
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
) -> np.ndarray:
    """The victim key of each of the pages (VM vm's at pages[vm_first[vm]:vm_first[vm + 1]]):
    the soonest next-use time over its VM's vCPUs, a dirty page's brought forward by
    dirty_ns."""
    keys = np.full(pages.size, far, dtype=np.int64)
    for vm in range(vm_base.size - 1):
        for i in range(vm_vcpu_off[vm], vm_vcpu_off[vm + 1]):
            row = vcpu_rows[vm_vcpus[i]]
            off = row[C_NEXT_OFF] - vm_base[vm]
            for j in range(vm_first[vm], vm_first[vm + 1]):
                t = _time_at(next_pos[off + pages[j]], row, starts, cum, share, unplanned_ns, far)
                if t < keys[j]:
                    keys[j] = t
    for j in range(pages.size):
        if state[pages[j]] == DIRTY:
            keys[j] -= dirty_ns
    return keys


@njit(cache=True, nogil=True)
def latest_keys(n: int, pages: np.ndarray, keys: np.ndarray, last_use_ns: np.ndarray) -> np.ndarray:
    """Indices of the (ascending) pages with the n latest keys: the latest first, equal keys
    by page; of the pages whose key is the n-th latest, the least recently used, then the
    lowest page. One pass sorts out those above the n-th latest key (fewer than n) from those
    at it, and only those above are ranked (ranked: one sort of packed keys)."""
    n = min(n, pages.size)
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    kth = np.partition(keys, keys.size - n)[keys.size - n]  # the n-th latest time
    above = np.empty(n, dtype=np.int64)
    tie = np.empty(keys.size, dtype=np.int64)
    n_above = n_tie = 0
    for i in range(keys.size):
        if keys[i] > kth:
            above[n_above] = i
            n_above += 1
        elif keys[i] == kth:
            tie[n_tie] = i
            n_tie += 1
    out = np.empty(n, dtype=np.int64)
    out[:n_above] = ranked(above[:n_above], keys)
    tie = tie[:n_tie]
    out[n_above:] = tie[np.argsort(last_use_ns[pages[tie]], kind="mergesort")][: n - n_above]
    return out


@njit(cache=True, nogil=True)
def ascending_within_equal(order: np.ndarray, keys: np.ndarray) -> None:
    """Sort each run of order whose keys are equal ascending, in place: what a stable sort
    of the keys would give, after a quicksort (several times faster than numba's mergesort
    on a few thousand keys, and runs of equal keys are short)."""
    i = 0
    while i < order.size:
        j = i + 1
        while j < order.size and keys[order[j]] == keys[order[i]]:
            j += 1
        if j - i > 1:
            order[i:j] = np.sort(order[i:j])
        i = j


@njit(cache=True, nogil=True)
def ranked(idx: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """The indices idx (any order) by latest key first, equal keys by index. Where the keys'
    span and the indices fit in one int64, one sort of (latest - key, index) packed does it;
    else an argsort, each run of equal keys then put in index order."""
    if idx.size == 0:
        return idx.copy()
    k = keys[idx]
    latest, least = k.max(), k.min()
    index_bits = bit_length(idx.max())
    if latest - least < (1 << (62 - index_bits)):  # (the span itself cannot overflow: keys
        packed = ((latest - k) << index_bits) | idx  # are times, far below 2**62 apart)
        packed.sort()
        return packed & ((1 << index_bits) - 1)
    out = idx[np.argsort(-k)]
    ascending_within_equal(out, keys)
    return out
