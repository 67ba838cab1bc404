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

from engine.hotpath.device_time import demand_service_ns
from engine.hotpath.oldest import TOO_WIDE, oldest_pages
from engine.hotpath.reclaim import direct_reclaim
from engine.hotpath.row_fault import read_row_ahead
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
    LIST_GONE,
    NEEDS_PYTHON,
    R_BATCH,
    R_BEFORE_NS,
    R_COUNT_RESCUES,
    R_ENABLED,
    R_KEEP,
    R_REQUEUED,
    R_STEP_START_NS,
    R_WRITE_FAILURES,
    S_FREE_FRAMES,
    S_FREE_SLOTS,
    S_LIST_END,
    S_LIST_HEAD,
    S_N_OPS,
    S_OP_PAGES,
    S_RESCUES,
    S_WRITING_PENDING,
    V_BUSY_NS,
    V_DEMAND_OPS,
    V_OPS_DONE,
    V_PAGES_DONE,
)
from engine.hotpath.stream_fault import read_stream_ahead
from engine.page_states import CLEAN, DIRTY, PREFETCHED, READING, SWAPPED, UNTOUCHED, WRITING

ANY_KEY = (1 << 63) - 1  # a list's before_ns that lets any of its pages be taken
assert DIRTY == CLEAN + 1  # run_references makes a written clean page dirty by adding one


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
    list_pages: np.ndarray,
    list_keys: np.ndarray,
    keys_now: np.ndarray,
    vm_of: np.ndarray,
    wasted: np.ndarray,
    refused: np.ndarray,
    victims: np.ndarray,
    ops: np.ndarray,
    op_pages: np.ndarray,
    fault_rows: np.ndarray,
    fault_config: np.ndarray,
    vm: int,
    used_base: int,
) -> tuple[int, int, int]:
    """Run references rel[0:] (pages relative to vm_lo) from time t, one at a time, as step_one
    would, while t < t_end and the burst lasts. Returns (references done, time, why it
    stopped). With collect, the distinct pages touched (in order of first touch) and the
    major-faulted pages are appended to touched and majors (counts holds their lengths) for
    the policy's after_run; mark must be all False on entry and is left so. With scan_refs > 0
    a major fault reads the next scan_pages swapped pages of ahead[n : n + scan_refs] (the
    stream from this reference on, rel's references and more) instead of a cluster; with rows
    in `fault_rows` (engine.hotpath.row_fault), VM vm's row picks them (Leap's trend, Linux's
    adaptive window), its prefetched pages used so far being used_base plus what delta and
    this call count. A fault
    with no free frame reclaims here when `reclaim` allows (see direct_reclaim), making the
    kept list again when it runs short (remake_kept; Python keeps the list the kernel made
    from list_pages and list_keys, see window.run_window). evicted_for_prefetch
    is empty while no page has ever been evicted for a prefetch (a fault then reads no flag)."""
    # The counters a reference may change are kept in locals and stored once, at the end:
    # the compiler cannot keep an array's slots in registers (it may alias the pool's arrays),
    # and a store per fault to each of them cost more than the fault's own bookkeeping.
    free_frames = scalars[S_FREE_FRAMES]
    slots_freed = 0  # by writes to clean pages (their swap copy is stale), stored with the rest
    n_minor = n_major = n_read = n_used = stall_ns = read_busy_ns = 0
    # A one-page read that starts once the other lanes' work seen at the last boundary is over
    # shares the device with nothing, so its service time is one figure, worked out once
    # (boundary_busy does not change within a call).
    shared_until = -(1 << 62)
    for other in range(boundary_busy.size):
        if other != lane:
            shared_until = max(shared_until, boundary_busy[other])
    lone_read_ns = demand_service_ns(device, boundary_busy, lane, shared_until, 1)
    why = GO_ON
    n = 0
    # References the burst has room for (it lasts while any of it is left), and the window's.
    n_max = min(rel.size, -(-burst_left_ns // cpu_ns)) if burst_left_ns > 0 else 0
    while n < n_max and t < t_end:
        g = vm_lo + rel[np.uint64(n)]
        # An unsigned index spares each access numba's wraparound of negative indices (a page
        # is never negative); only ever an index, as uint64 with int64 arithmetic is a float.
        u = np.uint64(g)
        s = state[u]
        cost = 0
        major = False
        if s == READING:
            why = NEEDS_PYTHON
            break
        if s in (UNTOUCHED, SWAPPED):
            if free_frames < 1:
                scalars[S_FREE_FRAMES] = free_frames
                scalars[S_FREE_SLOTS] += slots_freed
                slots_freed = 0
                why = direct_reclaim(
                    reclaim, kept_pages, kept_keys, keys_now, vm_of, wasted, refused,
                    victims, ops, op_pages, t, state, scalars, busy_until, device,
                )  # fmt: skip
                if (
                    why == NEEDS_PYTHON
                    and may_remake(reclaim, scalars, ops, op_pages)
                    and remake_kept(reclaim, list_pages, list_keys, keys_now, state, scalars)
                ):
                    # The kept list could not supply the victims; the one made now can.
                    end = scalars[S_LIST_END]
                    kept_pages, kept_keys = list_pages[:end], list_keys[:end]
                    why = direct_reclaim(
                        reclaim, kept_pages, kept_keys, keys_now, vm_of, wasted, refused,
                        victims, ops, op_pages, t, state, scalars, busy_until, device,
                    )  # fmt: skip
                free_frames = scalars[S_FREE_FRAMES]
                if why == GO_ON:
                    continue  # frames freed: the same reference again
                break
            if s == UNTOUCHED:
                cost = minor_ns
                n_minor += 1
                s = DIRTY
                free_frames -= 1
            else:
                if python_on_major:
                    why = NEEDS_PYTHON
                    break
                major = True
                n_extra = 0
                room = max(0, free_frames - 1)
                if scan_refs > 0:  # the policy's own readahead: the stream's next pages
                    done, n_extra, service = read_stream_ahead(
                        ahead, n, scan_refs, min(scan_pages, room), vm_lo, g, state,
                        last_use_ns, load_ns, ref_bit, device, busy_until, boundary_busy, lane,
                        t, delta,
                    )  # fmt: skip
                elif fault_rows.shape[0] > 0:  # the policy's own read, from the VM's row
                    used = used_base + delta[D_PREFETCH_USED] + n_used
                    done, n_extra, service = read_row_ahead(
                        fault_rows[vm], fault_config, g, used, vm_lo, vm_hi, room, state,
                        last_use_ns, load_ns, ref_bit, device, busy_until, boundary_busy, lane, t,
                        delta,
                    )  # fmt: skip
                else:
                    if cluster > 1:  # (calls cost more than the rest of a fault: skip them)
                        n_extra = min(count_extra(state, g, vm_lo, vm_hi, cluster), room)
                    # device_time.demand_read_ns, its statistics kept in locals
                    start = max(t, busy_until[lane])
                    if n_extra == 0 and start >= shared_until:
                        service = lone_read_ns
                    else:
                        service = demand_service_ns(device, boundary_busy, lane, start, 1 + n_extra)
                    done = start + service
                    busy_until[lane] = done
                    if n_extra:
                        read_cluster(
                            state, last_use_ns, load_ns, ref_bit, g, vm_lo, vm_hi, cluster,
                            n_extra, done, delta,
                        )  # fmt: skip
                read_busy_ns += service
                free_frames -= 1 + n_extra
                n_major += 1
                n_read += 1 + n_extra
                if evicted_for_prefetch.size and evicted_for_prefetch[u]:
                    delta[D_POLLUTION] += 1
                    evicted_for_prefetch[u] = False
                s = CLEAN
                cost = done - t
                stall_ns += cost
            load_ns[u] = t + cost + cpu_ns
        elif s == WRITING:  # swap-cache hit: rescued before its write ended
            cost = minor_ns
            n_minor += 1
            s = DIRTY
            scalars[S_FREE_SLOTS] += 1
            scalars[S_WRITING_PENDING] -= 1
            scalars[S_RESCUES] += 1
        elif s == PREFETCHED:
            n_used += 1
            s = CLEAN
        # s is the page's state now; a write makes a clean page dirty. Without a branch: whether
        # a page is clean or dirty is unpredictable, and the store is to a line just read.
        dirtied = writes[np.uint64(n)] & (s == CLEAN)
        state[u] = s + dirtied  # DIRTY == CLEAN + 1
        slots_freed += dirtied
        t = t + cost + cpu_ns
        last_use_ns[u] = t
        ref_bit[u] = True
        if collect:
            if not mark[u]:
                mark[u] = True
                touched[counts[0]] = g
                counts[0] += 1
            if major:
                majors[counts[1]] = g
                counts[1] += 1
        n += 1
    scalars[S_FREE_FRAMES] = free_frames
    scalars[S_FREE_SLOTS] += slots_freed
    delta[D_MINOR] += n_minor
    delta[D_FAULT_CPU_NS] += n_minor * minor_ns
    delta[D_PREFETCH_USED] += n_used
    delta[D_MAJOR] += n_major
    delta[D_SWAP_IN] += n_read
    delta[D_STALL_NS] += stall_ns
    device[V_PAGES_DONE] += n_read
    device[V_BUSY_NS] += read_busy_ns
    device[V_OPS_DONE] += n_major
    device[V_DEMAND_OPS] += n_major
    return stop(n, t, why, cpu_ns, delta)


@njit(cache=True, nogil=True)
def may_remake(
    reclaim: np.ndarray, scalars: np.ndarray, ops: np.ndarray, op_pages: np.ndarray
) -> bool:
    """Whether direct reclaim's NEEDS_PYTHON was for the kept list alone (stale or too short),
    which the kernel can make again: reclaim on, free swap slots (so not clean pages only)
    and room to record a batch of writes."""
    batch = reclaim[R_BATCH]
    return (
        reclaim[R_ENABLED] != 0
        and scalars[S_FREE_SLOTS] > 0
        and scalars[S_N_OPS] + batch <= ops.shape[0]
        and scalars[S_OP_PAGES] + batch <= op_pages.size
    )


@njit(cache=True, nogil=True)
def remake_kept(
    reclaim: np.ndarray,
    list_pages: np.ndarray,
    list_keys: np.ndarray,
    keys_now: np.ndarray,
    state: np.ndarray,
    scalars: np.ndarray,
) -> bool:
    """victims.Oldest's full selection into list_pages (keys in list_keys), made at the step's
    start with the requeued count of now; it becomes the kept list (S_LIST_END its length, for
    Python to keep). Where keys from this very step are among the first batch, Oldest hands
    that batch out and keeps nothing: so the list is that batch alone, any key allowed.
    False where Python must select (keys that do not pack, fewer pages than a batch); a list
    this call made before is overwritten then, so S_LIST_END becomes LIST_GONE and Python
    keeps no list (its next selection makes one, as it would have with the list that ran
    short)."""
    batch, step_start = reclaim[R_BATCH], reclaim[R_STEP_START_NS]
    count = oldest_pages(state, keys_now, max(batch, reclaim[R_KEEP]), list_pages, list_keys)
    if count == TOO_WIDE or count < batch:
        if scalars[S_LIST_END] >= 0:
            scalars[S_LIST_END] = LIST_GONE
        return False
    if list_keys[batch - 1] >= step_start:
        count, step_start = batch, ANY_KEY
    reclaim[R_BEFORE_NS] = step_start
    reclaim[R_REQUEUED] = reclaim[R_WRITE_FAILURES] + (
        scalars[S_RESCUES] if reclaim[R_COUNT_RESCUES] else 0
    )
    scalars[S_LIST_HEAD] = 0
    scalars[S_LIST_END] = count
    return True


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
