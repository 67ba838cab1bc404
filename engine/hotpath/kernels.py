"""Per-reference kernels, compiled with numba: hits, first touches, rescues, major faults with
the aligned readahead cluster, and direct reclaim for the plain victim orders (LRU, FIFO).

Each mirrors a branch of `engine.executor.step_one` line for line, so the two compute the same
numbers; the differential tests check that they do. State the kernels cannot see (operations
in flight, a policy's own choices, injected device faults) makes them stop before the
reference that needs it, with that reference still pending, and Python handles it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.pool import CLEAN, DIRTY, PREFETCHED, READING, SWAPPED, UNTOUCHED, WRITING

# Why a kernel returned (besides running out of time, burst or window: GO_ON).
GO_ON = 0
NEEDS_PYTHON = 1  # the next reference needs step_one (it is still pending)

# Slots of the per-call delta of a VM's counters (added to engine.metrics.Counters after).
D_REFERENCES = 0
D_CPU_NS = 1
D_MINOR = 2
D_FAULT_CPU_NS = 3
D_PREFETCH_USED = 4
D_MAJOR = 5
D_STALL_NS = 6
D_SWAP_IN = 7
D_READAHEAD = 8
D_PREFETCH_ISSUED = 9
D_POLLUTION = 10
N_DELTAS = 11
DELTA_COUNTERS = (
    "references",
    "cpu_ns",
    "minor_faults",
    "fault_cpu_ns",
    "prefetch_used",
    "major_faults",
    "stall_ns",
    "swap_in_pages",
    "readahead_pages",
    "prefetch_issued",
    "pollution_faults",
)

# Slots of the pool and paging scalars the kernels read and update in place.
S_FREE_FRAMES = 0
S_FREE_SLOTS = 1
S_RESCUES = 2
S_WRITING_PENDING = 3
N_SCALARS = 4

# Slots of the device's demand-read figures: its settings, then its statistics.
V_LATENCY_NS = 0
V_PAGE_NS = 1
V_OP_NS = 2
V_PAGES_DONE = 3
V_BUSY_NS = 4
V_OPS_DONE = 5
V_DEMAND_OPS = 6
N_DEVICE = 7


@njit(cache=True)
def demand_read_ns(
    device: np.ndarray,
    busy_until: np.ndarray,
    boundary_busy: np.ndarray,
    lane: int,
    now_ns: int,
    n_pages: int,
) -> int:
    """SwapDevice.demand_read without injected faults: the read starts when the pCPU's lane
    is free, shares the device with what was in service at the last boundary, and ends at the
    returned time."""
    start = max(now_ns, busy_until[lane])
    sharers = 1
    for other in range(boundary_busy.size):
        if other != lane and boundary_busy[other] > start:
            sharers += 1
    service = max(
        device[V_LATENCY_NS] + sharers * n_pages * device[V_PAGE_NS], sharers * device[V_OP_NS]
    )
    done = start + service
    busy_until[lane] = done
    device[V_PAGES_DONE] += n_pages
    device[V_BUSY_NS] += service
    device[V_OPS_DONE] += 1
    device[V_DEMAND_OPS] += 1
    return done


@njit(cache=True)
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


@njit(cache=True)
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


@njit(cache=True)
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
) -> tuple[int, int, int]:
    """Run references rel[0:] (pages relative to vm_lo) from time t, one at a time, as step_one
    would, while t < t_end and the burst lasts. Returns (references done, time, why it
    stopped). With collect, the distinct pages touched (in order of first touch) and the
    major-faulted pages are appended to touched and majors (counts holds their lengths) for
    the policy's after_run; mark must be all False on entry and is left so."""
    n = 0
    while n < rel.size and t < t_end and burst_left_ns - n * cpu_ns > 0:
        g = vm_lo + rel[n]
        s = state[g]
        cost = 0
        major = False
        if s == READING:
            return n, t, NEEDS_PYTHON
        if s in (UNTOUCHED, SWAPPED):
            if scalars[S_FREE_FRAMES] < 1:
                return n, t, NEEDS_PYTHON
            if s == UNTOUCHED:
                cost = minor_ns
                delta[D_MINOR] += 1
                delta[D_FAULT_CPU_NS] += cost
                state[g] = DIRTY
                scalars[S_FREE_FRAMES] -= 1
            else:
                if python_on_major:
                    return n, t, NEEDS_PYTHON
                major = True
                room = max(0, scalars[S_FREE_FRAMES] - 1)
                n_extra = min(count_extra(state, g, vm_lo, vm_hi, cluster), room)
                done = demand_read_ns(device, busy_until, boundary_busy, lane, t, 1 + n_extra)
                read_cluster(
                    state,
                    last_use_ns,
                    load_ns,
                    ref_bit,
                    g,
                    vm_lo,
                    vm_hi,
                    cluster,
                    n_extra,
                    done,
                    delta,
                )
                scalars[S_FREE_FRAMES] -= 1 + n_extra
                delta[D_MAJOR] += 1
                delta[D_SWAP_IN] += 1 + n_extra
                if evicted_for_prefetch[g]:
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
        delta[D_REFERENCES] += 1
        delta[D_CPU_NS] += cpu_ns
        if collect:
            if not mark[g]:
                mark[g] = True
                touched[counts[0]] = g
                counts[0] += 1
            if major:
                majors[counts[1]] = g
                counts[1] += 1
        n += 1
    return n, t, GO_ON


@njit(cache=True)
def clear_marks(mark: np.ndarray, touched: np.ndarray, n: int) -> None:
    """Reset the marks run_references set for the first n touched pages."""
    for i in range(n):
        mark[touched[i]] = False
