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

# Slots of direct reclaim's settings (an int64 array; its arrays are passed one by one, as
# numba checks the type of a tuple argument slowly, in Python, at every call).
R_ENABLED = 0  # 0: the kernel hands every fault without a free frame to Python
R_BATCH = 1  # victims per direct reclaim
R_WRITE_BATCH = 2  # most pages per write operation
R_BEFORE_NS = 3  # the kept list's pages may be taken only with keys older than this
R_REQUEUED = 4  # the count of requeued pages when the list was made
R_WRITE_FAILURES = 5  # the pool's failed writes now
R_COUNT_RESCUES = 6  # 1: rescues requeue pages with old keys too (FIFO)
N_RECLAIM = 7

# Why a kernel returned (besides running out of time, burst or window: GO_ON).
GO_ON = 0
NEEDS_PYTHON = 1  # the next reference needs step_one (it is still pending)
WAIT_FOR_FRAME = 2  # reclaim freed no frame at once: wait for a write (executor.wait_for_frame)

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
S_LIST_HEAD = 4  # how far into the victim list's kept pages the kernel has taken
S_N_OPS = 5  # write operations recorded in ops
S_OP_PAGES = 6  # pages of those operations, in op_pages
N_SCALARS = 7

# Slots of the device's demand-read figures: its settings, then its statistics.
V_LATENCY_NS = 0
V_PAGE_NS = 1
V_OP_NS = 2
V_PAGES_DONE = 3
V_BUSY_NS = 4
V_OPS_DONE = 5
V_DEMAND_OPS = 6
V_WRITE_PAGE_NS = 7
V_WRITE_OP_NS = 8
V_WRITE_BUSY_NS = 9  # busy time of the write-to-free class
V_SEQ = 10  # the device's next operation number
N_DEVICE = 11

# Columns of a write operation recorded by direct reclaim (pages op_pages[lo:hi]).
OP_VM, OP_ISSUE, OP_LANE, OP_START, OP_DONE, OP_SEQ, OP_LO, OP_HI = range(8)
N_OP_COLUMNS = 8


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
    the policy's after_run; mark must be all False on entry and is left so. A fault with no
    free frame reclaims here when `reclaim` allows (see direct_reclaim)."""
    n = 0
    while n < rel.size and t < t_end and burst_left_ns - n * cpu_ns > 0:
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


@njit(cache=True)
def stop(n: int, t: int, why: int, cpu_ns: int, delta: np.ndarray) -> tuple[int, int, int]:
    """run_references' return: the n references done are counted here, once, rather than
    one by one (a store per reference the compiler cannot keep in a register)."""
    delta[D_REFERENCES] += n
    delta[D_CPU_NS] += n * cpu_ns
    return n, t, why


@njit(cache=True)
def clear_marks(mark: np.ndarray, touched: np.ndarray, n: int) -> None:
    """Reset the marks run_references set for the first n touched pages."""
    for i in range(n):
        mark[touched[i]] = False


@njit(cache=True)
def direct_reclaim(
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
    now_ns: int,
    state: np.ndarray,
    scalars: np.ndarray,
    busy_until: np.ndarray,
    device: np.ndarray,
) -> int:
    """executor.direct_reclaim's reclaim, for a plain victim order whose kept list can supply
    the victims; NEEDS_PYTHON (nothing done) otherwise. GO_ON if a frame is free after it,
    WAIT_FOR_FRAME if the faulting vCPU must wait for a write."""
    enabled, batch, write_batch = reclaim[R_ENABLED], reclaim[R_BATCH], reclaim[R_WRITE_BATCH]
    before_ns, requeued = reclaim[R_BEFORE_NS], reclaim[R_REQUEUED]
    write_failures, count_rescues = reclaim[R_WRITE_FAILURES], reclaim[R_COUNT_RESCUES]
    if not enabled or scalars[S_FREE_SLOTS] == 0:  # a full swap device: clean pages only
        return NEEDS_PYTHON
    if write_failures + (scalars[S_RESCUES] if count_rescues else 0) != requeued:
        return NEEDS_PYTHON  # pages came back with old keys: the list is remade in Python
    if scalars[S_N_OPS] + batch > ops.shape[0] or scalars[S_OP_PAGES] + batch > op_pages.size:
        return NEEDS_PYTHON  # no room to record more writes this call
    head = take_kept(
        kept_pages, kept_keys, scalars[S_LIST_HEAD], batch, before_ns, state, keys_now, victims
    )
    if head < 0:
        return NEEDS_PYTHON
    scalars[S_LIST_HEAD] = head
    freed = evict_for_fault(
        victims[:batch],
        now_ns,
        state,
        vm_of,
        scalars,
        wasted,
        refused,
        write_batch,
        busy_until,
        device,
        ops,
        op_pages,
    )
    if freed > 0 or scalars[S_FREE_FRAMES] > 0:
        return GO_ON
    return WAIT_FOR_FRAME


@njit(cache=True)
def take_kept(
    kept_pages: np.ndarray,
    kept_keys: np.ndarray,
    head: int,
    n: int,
    before_ns: int,
    state: np.ndarray,
    keys_now: np.ndarray,
    out: np.ndarray,
) -> int:
    """victims.Oldest._take over its kept list from head: the first n kept pages still
    evictable with unchanged keys, the last of them older than before_ns, written to out.
    Returns the new head (one past the last taken), or -1 when the list cannot supply them
    (then Python remakes the list)."""
    found = 0
    i = head
    while i < kept_pages.size and found < n:
        page = kept_pages[i]
        s = state[page]
        if s >= CLEAN and s <= PREFETCHED and keys_now[page] == kept_keys[i]:
            out[found] = page
            found += 1
        i += 1
    if found < n or kept_keys[i - 1] >= before_ns:
        return -1
    return i


@njit(cache=True)
def start_write(
    pages: np.ndarray,
    lo: int,
    hi: int,
    now_ns: int,
    busy_until: np.ndarray,
    device: np.ndarray,
) -> tuple[int, int, int, int]:
    """SwapDevice.start_now of a write of pages[lo:hi] without injected faults: on the lane
    free earliest, sharing the device with what is in service when it starts. Returns
    (lane, start, done, seq)."""
    lane = 0
    for other in range(1, busy_until.size):
        if busy_until[other] < busy_until[lane]:
            lane = other
    start = max(now_ns, busy_until[lane])
    sharers = 1
    for other in range(busy_until.size):
        if other != lane and busy_until[other] > start:
            sharers += 1
    n_pages = hi - lo
    service = max(
        device[V_LATENCY_NS] + sharers * n_pages * device[V_WRITE_PAGE_NS],
        sharers * device[V_WRITE_OP_NS],
    )
    busy_until[lane] = start + service
    device[V_WRITE_BUSY_NS] += service
    seq = device[V_SEQ]
    device[V_SEQ] += 1
    return lane, start, start + service, seq


@njit(cache=True)
def evict_for_fault(
    victims: np.ndarray,
    now_ns: int,
    state: np.ndarray,
    vm_of: np.ndarray,
    scalars: np.ndarray,
    wasted: np.ndarray,
    refused: np.ndarray,
    write_batch: int,
    busy_until: np.ndarray,
    device: np.ndarray,
    ops: np.ndarray,
    op_pages: np.ndarray,
) -> int:
    """PagingServices.evict of direct reclaim's victims (write-to-free, started at once):
    clean ones are dropped, dirty ones (as many as free swap slots allow) are written, one
    write per VM and batch, recorded in ops for Python to put in flight. Returns frames freed."""
    freed = 0
    n_dirty = 0
    dirty = np.empty(victims.size, dtype=np.int64)
    for i in range(victims.size):
        page = victims[i]
        s = state[page]
        if s in (CLEAN, PREFETCHED):
            if s == PREFETCHED:
                wasted[vm_of[page]] += 1
            state[page] = SWAPPED
            freed += 1
        elif s == DIRTY:
            if n_dirty < scalars[S_FREE_SLOTS]:
                dirty[n_dirty] = page
                n_dirty += 1
            else:
                refused[vm_of[page]] += 1  # no free slot: it stays resident, not lost
    scalars[S_FREE_FRAMES] += freed
    if n_dirty == 0:
        return freed
    written = np.sort(dirty[:n_dirty])
    scalars[S_FREE_SLOTS] -= n_dirty
    scalars[S_WRITING_PENDING] += n_dirty
    base = scalars[S_OP_PAGES]
    for i in range(n_dirty):
        state[written[i]] = WRITING
        op_pages[base + i] = written[i]
    group = 0
    while group < n_dirty:
        end = group
        while end < n_dirty and vm_of[written[end]] == vm_of[written[group]]:
            end += 1
        for lo in range(group, end, write_batch):
            hi = min(lo + write_batch, end)
            lane, start, done, seq = start_write(
                op_pages, base + lo, base + hi, now_ns, busy_until, device
            )
            row = scalars[S_N_OPS]
            ops[row, OP_VM] = vm_of[written[lo]]
            ops[row, OP_ISSUE] = now_ns
            ops[row, OP_LANE] = lane
            ops[row, OP_START] = start
            ops[row, OP_DONE] = done
            ops[row, OP_SEQ] = seq
            ops[row, OP_LO] = base + lo
            ops[row, OP_HI] = base + hi
            scalars[S_N_OPS] += 1
        group = end
    scalars[S_OP_PAGES] += n_dirty
    return freed
