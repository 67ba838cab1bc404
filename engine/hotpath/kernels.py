"""The per-reference kernel, compiled with numba: hits, first touches, rescues, major faults
with the aligned readahead cluster; a fault with no free frame reclaims through
`engine.hotpath.reclaim` when the policy's victims allow it.

Each mirrors a branch of `engine.executor.step_one` line for line, so the two compute the same
numbers; the differential tests check that they do. State the kernels cannot see (operations
in flight, a policy's own choices, injected device faults) makes them stop before the
reference that needs it, with that reference still pending, and Python handles it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.hotpath.device_time import demand_read_ns
from engine.hotpath.reclaim import direct_reclaim
from engine.hotpath.slots import (
    D_CPU_NS,
    D_FAULT_CPU_NS,
    D_MAJOR,
    D_MINOR,
    D_POLLUTION,
    D_PREFETCH_ISSUED,
    D_PREFETCH_USED,
    D_READAHEAD,
    D_REFERENCES,
    D_STALL_NS,
    D_SWAP_IN,
    GO_ON,
    NEEDS_PYTHON,
    S_FREE_FRAMES,
    S_FREE_SLOTS,
    S_RESCUES,
    S_WRITING_PENDING,
)
from engine.hotpath.stream_fault import read_stream_ahead
from engine.page_states import CLEAN, DIRTY, PREFETCHED, READING, SWAPPED, UNTOUCHED, WRITING


@njit(cache=True, nogil=True)
def read_cluster(
    state: np.ndarray,
    last_use_ns: np.ndarray,
    load_ns: np.ndarray,
    ref_bit: np.ndarray,
    page: int,
    vm_lo: int,
    vm_hi: int,
    cluster: int,
    room: int,
    done_ns: int,
    delta: np.ndarray,
) -> int:
    """The swapped pages of the page's aligned cluster (itself excepted, at most room of
    them, in page order) come in as PREFETCHED with the fault's read; returns how many."""
    if cluster <= 1 or room <= 0:
        return 0
    lo = vm_lo + ((page - vm_lo) // cluster) * cluster
    hi = min(lo + cluster, vm_hi)
    n = 0
    for member in range(lo, hi):
        if n >= room:
            break
        if member != page and state[member] == SWAPPED:
            n += 1
    taken = 0
    for member in range(lo, hi):
        if taken >= n:
            break
        if member != page and state[member] == SWAPPED:
            state[member] = PREFETCHED
            load_ns[member] = done_ns
            last_use_ns[member] = done_ns
            ref_bit[member] = False
            taken += 1
    delta[D_READAHEAD] += n
    delta[D_PREFETCH_ISSUED] += n
    return n


@njit(cache=True, nogil=True)
def count_extra(state: np.ndarray, page: int, vm_lo: int, vm_hi: int, cluster: int) -> int:
    """Swapped pages of the page's aligned cluster other than itself."""
    if cluster <= 1:
        return 0
    lo = vm_lo + ((page - vm_lo) // cluster) * cluster
    hi = min(lo + cluster, vm_hi)
    n = 0
    for member in range(lo, hi):
        if member != page and state[member] == SWAPPED:
            n += 1
    return n


@njit(cache=True, nogil=True)
def run_references(
    rel: np.ndarray,
    writes: np.ndarray,
    vm_lo: int,
    vm_hi: int,
    cpu_ns: int,
    t: int,
    t_end: int,
    burst_left_ns: int,
    minor_ns: int,
    cluster: int,
    python_on_major: bool,
    ahead: np.ndarray,
    scan_refs: int,
    scan_pages: int,
    state: np.ndarray,
    last_use_ns: np.ndarray,
    load_ns: np.ndarray,
    ref_bit: np.ndarray,
    evicted_for_prefetch: np.ndarray,
    scalars: np.ndarray,
    delta: np.ndarray,
    device: np.ndarray,
    busy_until: np.ndarray,
    boundary_busy: np.ndarray,
    lane: int,
    collect: bool,
    mark: np.ndarray,
    touched: np.ndarray,
    majors: np.ndarray,
    counts: np.ndarray,
    reclaim: np.ndarray,
    kept_pages: np.ndarray,
    kept_keys: np.ndarray,
    keys_now: np.ndarray,
    vm_of: np.ndarray,
    wasted: np.ndarray,
    refused: np.ndarray,
    victims: np.ndarray,
    ops: np.ndarray,
    op_pages: np.ndarray,
) -> tuple[int, int, int]:
    """Run references rel[0:] (pages relative to vm_lo) from time t, one at a time, as step_one
    would, while t < t_end and the burst lasts. Returns (references done, time, why it
    stopped). With collect, the distinct pages touched (in order of first touch) and the
    major-faulted pages are appended to touched and majors (counts holds their lengths) for
    the policy's after_run; mark must be all False on entry and is left so. With scan_refs > 0
    a major fault reads the next scan_pages swapped pages of ahead[n : n + scan_refs] (the
    stream from this reference on, rel's references and more) instead of a cluster. A fault with no
    free frame reclaims here when `reclaim` allows (see direct_reclaim). evicted_for_prefetch
    is empty while no page has ever been evicted for a prefetch (a fault then reads no flag)."""
    n = 0
    # References the burst has room for (it lasts while any of it is left), and the window's.
    n_max = min(rel.size, -(-burst_left_ns // cpu_ns)) if burst_left_ns > 0 else 0
    while n < n_max and t < t_end:
        g = vm_lo + rel[n]
        s = state[g]
        cost = 0
        major = False
        if s == READING:
            return stop(n, t, NEEDS_PYTHON, cpu_ns, delta)
        if s in (UNTOUCHED, SWAPPED):
            if scalars[S_FREE_FRAMES] < 1:
                why = direct_reclaim(
                    reclaim, kept_pages, kept_keys, keys_now, vm_of, wasted, refused,
                    victims, ops, op_pages, t, state, scalars, busy_until, device,
                )  # fmt: skip
                if why == GO_ON:
                    continue  # frames freed: the same reference again
                return stop(n, t, why, cpu_ns, delta)
            if s == UNTOUCHED:
                cost = minor_ns
                delta[D_MINOR] += 1
                delta[D_FAULT_CPU_NS] += cost
                state[g] = DIRTY
                scalars[S_FREE_FRAMES] -= 1
            else:
                if python_on_major:
                    return stop(n, t, NEEDS_PYTHON, cpu_ns, delta)
                major = True
                n_extra = 0
                room = max(0, scalars[S_FREE_FRAMES] - 1)
                if scan_refs > 0:  # the policy's own readahead: the stream's next pages
                    done, n_extra = read_stream_ahead(
                        ahead, n, scan_refs, min(scan_pages, room), vm_lo, g, state,
                        last_use_ns, load_ns, ref_bit, device, busy_until, boundary_busy, lane,
                        t, delta,
                    )  # fmt: skip
                else:
                    if cluster > 1:  # (calls cost more than the rest of a fault: skip them)
                        n_extra = min(count_extra(state, g, vm_lo, vm_hi, cluster), room)
                    done = demand_read_ns(device, busy_until, boundary_busy, lane, t, 1 + n_extra)
                    if n_extra:
                        read_cluster(
                            state, last_use_ns, load_ns, ref_bit, g, vm_lo, vm_hi, cluster,
                            n_extra, done, delta,
                        )  # fmt: skip
                scalars[S_FREE_FRAMES] -= 1 + n_extra
                delta[D_MAJOR] += 1
                delta[D_SWAP_IN] += 1 + n_extra
                if evicted_for_prefetch.size and evicted_for_prefetch[g]:
                    delta[D_POLLUTION] += 1
                    evicted_for_prefetch[g] = False
                state[g] = CLEAN
                s = CLEAN
                cost = done - t
                delta[D_STALL_NS] += cost
            load_ns[g] = t + cost + cpu_ns
        elif s == WRITING:  # swap-cache hit: rescued before its write ended
            cost = minor_ns
            delta[D_MINOR] += 1
            delta[D_FAULT_CPU_NS] += cost
            state[g] = DIRTY
            scalars[S_FREE_SLOTS] += 1
            scalars[S_WRITING_PENDING] -= 1
            scalars[S_RESCUES] += 1
        elif s == PREFETCHED:
            delta[D_PREFETCH_USED] += 1
            state[g] = CLEAN
            s = CLEAN
        if writes[n] and s == CLEAN:
            state[g] = DIRTY
            scalars[S_FREE_SLOTS] += 1
        t = t + cost + cpu_ns
        last_use_ns[g] = t
        ref_bit[g] = True
        if collect:
            if not mark[g]:
                mark[g] = True
                touched[counts[0]] = g
                counts[0] += 1
            if major:
                majors[counts[1]] = g
                counts[1] += 1
        n += 1
    return stop(n, t, GO_ON, cpu_ns, delta)


@njit(cache=True, nogil=True)
def stop(n: int, t: int, why: int, cpu_ns: int, delta: np.ndarray) -> tuple[int, int, int]:
    """run_references' return: the n references done are counted here, once, rather than
    one by one (a store per reference the compiler cannot keep in a register)."""
    delta[D_REFERENCES] += n
    delta[D_CPU_NS] += n * cpu_ns
    return n, t, why


@njit(cache=True, nogil=True)
def clear_marks(mark: np.ndarray, touched: np.ndarray, n: int) -> None:
    """Reset the marks run_references set for the first n touched pages."""
    for i in range(n):
        mark[touched[i]] = False
