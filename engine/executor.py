"""Running one vCPU on one pCPU for a while: the per-reference model and its vectorised twin.

`step_one` is the model, one reference at a time, small enough to check by eye. `run_fast`
processes a run of references at once with numpy wherever that run provably needs no
eviction (frames needed fit the free frames), no wait on an in-flight prefetch, and no
per-fault decision; anywhere else it hands one reference to `step_one`. So both executors
compute the same thing, and tests check that they do, exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from engine.device import WRITE_TO_FREE
from engine.pool import (
    CLEAN,
    DIRTY,
    PREFETCHED,
    READING,
    SWAPPED,
    UNTOUCHED,
    WRITING,
)

if TYPE_CHECKING:
    from engine.machine import Machine
    from engine.vcpu import VCpu

# Why a run of a vCPU ended.
RAN_TO_END = "end"  # reached the end of the step or slice
SLEEP = "sleep"  # its activity burst is over
BLOCK = "block"  # yield-on-fault: waiting for a read without the pCPU
DONE = "done"  # a non-looping trace ran out

MAX_WINDOW = 1 << 15


def direct_reclaim(sim: Machine, vc: VCpu, t: int, t_end: int) -> int:
    """Free at least one frame for a faulting vCPU, which waits meanwhile. Returns the time.

    Victims are taken now; clean ones free their frames at once, dirty ones are written at
    once (write-to-free class) and the vCPU waits for the first write to end. With nothing to
    evict and nothing in flight (a full swap device), it stalls to t_end: throttled, no loss.
    """
    c = sim.counters
    freed = sim.reclaim(sim.host.reclaim_batch_pages, t, WRITE_TO_FREE, start_now=True)
    if freed > 0 or sim.pool.free_frames > 0:
        return t
    nxt = sim.device.next_completion_ns()
    if nxt is None:
        c.swap_full_stalls[vc.vm] += 1
        c.stall_ns[vc.vm] += max(0, t_end - t)
        return max(t, t_end)
    nxt = max(nxt, t)
    c.stall_ns[vc.vm] += nxt - t
    sim.complete_until(nxt)
    return nxt


def step_one(sim: Machine, vc: VCpu, pcpu: int, t: int, t_end: int) -> int:
    """Process (or try to process) the vCPU's next reference at time t; returns the new time.

    A reference is consumed only when it completes; a wait (reclaim, a prefetch in flight)
    returns the later time with the reference still pending.
    """
    pool, c, vm = sim.pool, sim.counters, vc.vm
    rel, wr = vc.stream.take(vc.pos, 1)
    g = int(vc.base + rel[0])
    write = bool(wr[0])
    s = int(pool.state[g])
    cost = 0
    major = False

    if s == READING:
        op = sim.reading_op[g]
        c.prefetch_late[vm] += 1
        if op.start_ns < 0:  # still queued: cancel it and fault normally
            sim.cancel_ops([op], t)
            return t
        done = max(op.done_ns, t)
        c.stall_ns[vm] += done - t
        sim.finish_op_early(op)
        return done

    if s in (UNTOUCHED, SWAPPED):
        if pool.free_frames < 1:
            return direct_reclaim(sim, vc, t, t_end)
        if s == UNTOUCHED:
            cost = sim.minor_ns
            c.minor_faults[vm] += 1
            c.fault_cpu_ns[vm] += cost
            pool.state[g] = DIRTY
            pool.free_frames -= 1
        else:
            major = True
            extra = sim.fault_extra_pages(vm, g, t)
            extra = extra[: max(0, pool.free_frames - 1)]
            done = sim.device.demand_read(pcpu, t, 1 + int(extra.size), vm)
            sim.major_fault_bookkeeping(vm, g, extra, done)
            pool.state[g] = CLEAN
            s = CLEAN
            if sim.yield_on_fault:
                # The vCPU gives up its pCPU now; its reference completes when the read does.
                vc.blocked_until = done
                end = done + vc.cpu_ns
                if write:
                    pool.state[g] = DIRTY
                    pool.free_slots += 1
                pool.load_ns[g] = pool.last_use_ns[g] = end
                pool.ref_bit[g] = True
                vc.consume(1)
                c.references[vm] += 1
                c.cpu_ns[vm] += vc.cpu_ns
                page = np.array([g], dtype=np.int64)
                sim.policy.after_run(vm, page, page)
                return t
            cost = done - t
            c.stall_ns[vm] += cost
        pool.load_ns[g] = t + cost + vc.cpu_ns
    elif s == WRITING:  # swap-cache hit: rescued before its write ended
        cost = sim.minor_ns
        c.minor_faults[vm] += 1
        c.fault_cpu_ns[vm] += cost
        pool.state[g] = DIRTY
        pool.free_slots += 1
        sim.writing_pending -= 1
        pool.rescues += 1
    elif s == PREFETCHED:
        c.prefetch_used[vm] += 1
        pool.state[g] = CLEAN
        s = CLEAN

    if write and s == CLEAN:
        pool.state[g] = DIRTY
        pool.free_slots += 1
    t = t + cost + vc.cpu_ns
    pool.last_use_ns[g] = t
    pool.ref_bit[g] = True
    vc.consume(1)
    c.references[vm] += 1
    c.cpu_ns[vm] += vc.cpu_ns
    page = np.array([g], dtype=np.int64)
    sim.policy.after_run(vm, page, page if major else fp_empty)
    return t


def run_reference(sim: Machine, vc: VCpu, pcpu: int, t: int, t_end: int) -> tuple[int, str]:
    """The per-reference executor: step_one until the step, slice or burst is over."""
    while t < t_end:
        if vc.stream_done():
            return t, DONE
        if vc.burst_left_ns <= 0:
            return t, SLEEP
        t = step_one(sim, vc, pcpu, t, t_end)
        if vc.blocked_until >= 0:
            return t, BLOCK
    return t, RAN_TO_END


def run_fast(sim: Machine, vc: VCpu, pcpu: int, t: int, t_end: int) -> tuple[int, str]:
    """The vectorised executor: same results as run_reference, a window at a time."""
    while t < t_end:
        if vc.stream_done():
            return t, DONE
        if vc.burst_left_ns <= 0:
            return t, SLEEP
        # With no free frame the next fault reclaims anyway: let the model step do it.
        n = 0 if sim.pool.free_frames == 0 else -1
        if n < 0:
            n, t = _vector_prefix(sim, vc, pcpu, t, t_end)
        if n == 0 and t < t_end and vc.burst_left_ns > 0 and not vc.stream_done():
            t = step_one(sim, vc, pcpu, t, t_end)
            if vc.blocked_until >= 0:
                return t, BLOCK
    return t, RAN_TO_END


def _vector_prefix(sim: Machine, vc: VCpu, pcpu: int, t: int, t_end: int) -> tuple[int, int]:
    """Process the longest run of references that needs no per-reference decision.

    Returns (references processed, new time). 0 means the next reference needs step_one.
    """
    pool, c, vm = sim.pool, sim.counters, vc.vm
    cpu = vc.cpu_ns
    n_time = -(-(t_end - t) // cpu)
    n_burst = -(-vc.burst_left_ns // cpu)
    # The window: what time allows, but not far beyond what the last window managed, nor
    # beyond what the free frames last at the recent rate of new frames per reference (its
    # size changes only the work done, never the result).
    by_frames = (pool.free_frames + 1) / max(vc.frames_per_ref, 1e-3) * 1.25
    w = int(
        min(n_time, n_burst, MAX_WINDOW, vc.refs_left(), 2 * vc.window_hint + 64, by_frames + 64)
    )
    if w <= 0:
        return 0, t
    rel, wr = vc.stream.take(vc.pos, w)
    g = rel + vc.base
    s0 = pool.state[g]
    idx = sim.arange[:w]

    # Cut before the first reference that needs a per-reference decision.
    limit = w
    reading = np.flatnonzero(s0 == READING)
    if reading.size:
        limit = int(reading[0])
    # First occurrence of each page within the window (ufunc.at has defined semantics).
    scratch = sim.scratch
    np.minimum.at(scratch, g, idx)
    first = scratch[g] == idx
    scratch[g] = SCRATCH_EMPTY

    swapped_first = first & (s0 == SWAPPED)
    if (sim.yield_on_fault or not sim.policy.vector_readahead) and swapped_first.any():
        limit = min(limit, int(np.argmax(swapped_first)))
    minor = first & (s0 == UNTOUCHED)
    rescue = first & (s0 == WRITING)

    # Major faults and aligned readahead clusters.
    cluster = int(sim.ra_cluster[vm])
    sf_idx = np.flatnonzero(swapped_first)
    fault_idx = sf_idx
    ra_counts = np.zeros(sf_idx.size, dtype=np.int64)
    if sf_idx.size and cluster > 1:
        key = (g[sf_idx] - vc.base) // cluster
        _, first_in_cluster = np.unique(key, return_index=True)
        fault_idx = np.sort(sf_idx[first_in_cluster])
        ckey = (g[fault_idx] - vc.base) // cluster
        members = vc.base + ckey[:, None] * cluster + sim.arange[None, :cluster]
        inside = members < vc.base + vc.vm_pages
        mstate = pool.state[np.where(inside, members, 0)]
        ra_counts = (inside & (mstate == SWAPPED)).sum(axis=1) - 1

    frames = minor.astype(np.int64)
    if fault_idx.size:
        frames[fault_idx] += 1 + ra_counts
        over = np.flatnonzero(np.cumsum(frames) > pool.free_frames)
    else:
        over = np.flatnonzero(np.cumsum(frames) > pool.free_frames) if minor.any() else over_none
    if over.size:
        limit = min(limit, int(over[0]))

    cost = np.full(w, cpu, dtype=np.int64)
    cost[minor | rescue] += sim.minor_ns
    extra = None
    service = over_none
    change_ns = SCRATCH_EMPTY
    if fault_idx.size:
        dev = sim.device
        # Only the first read can find its lane busy: later ones follow this vCPU's own.
        f0 = int(fault_idx[0])
        issue0 = t + int(cost[:f0].sum())
        start0 = max(issue0, int(dev.busy_until[dev.lane_of(pcpu)]))
        # The reads share the device with what was in service at the boundary; reads that
        # start once that changes belong to a later window.
        sharers, change_ns = dev.demand_sharers(pcpu, start0)
        service = dev.read_service_ns(1 + ra_counts, sharers)
        cost[fault_idx] += service
        if sim.faults.device_faults:
            extra = dev.demand_extra_ns(1 + ra_counts, sharers)  # injected retries and spikes
            cost[fault_idx] += extra
        cost[f0] += start0 - issue0
    ends = t + np.cumsum(cost)
    starts = ends - cost
    if change_ns != SCRATCH_EMPTY:
        later = np.flatnonzero(starts[fault_idx] >= change_ns)
        if later.size:
            limit = min(limit, int(fault_idx[later[0]]))
    n = min(limit, int(np.searchsorted(starts, t_end, side="left")))
    if n <= 0:
        return 0, t
    vc.window_hint = n

    # ---- apply references [0, n) ----
    gp = g[:n]
    first_p = first[:n]
    pages = gp[first_p]  # distinct pages, in order of first touch
    first_state = s0[:n][first_p]
    scratch[gp] = -1
    np.maximum.at(scratch, gp, idx[:n])
    last_ref = scratch[pages]
    scratch[gp] = SCRATCH_EMPTY
    mark = sim.mark
    wpages = gp[wr[:n]]
    mark[wpages] = True
    written = mark[pages]
    mark[wpages] = False

    fmask = fault_idx < n
    faults = fault_idx[fmask]
    ra_n = ra_counts[fmask]
    n_minor = int(np.count_nonzero(minor[:n]))
    n_rescue = int(np.count_nonzero(rescue[:n]))
    n_faults = int(faults.size)
    n_ra = int(ra_n.sum())

    # Readahead pages not touched in the prefix become PREFETCHED.
    n_ra_used = 0
    if n_ra:
        fp = g[faults]
        ckey = (fp - vc.base) // cluster
        members = vc.base + ckey[:, None] * cluster + sim.arange[None, :cluster]
        inside = members < vc.base + vc.vm_pages
        msafe = np.where(inside, members, 0)
        ra_mask = inside & (pool.state[msafe] == SWAPPED) & (members != fp[:, None])
        ra_pages = members[ra_mask]
        done_f = ends[faults] - cpu
        ra_done = np.broadcast_to(done_f[:, None], members.shape)[ra_mask]
        mark[pages] = True
        touched = mark[ra_pages]
        mark[pages] = False
        pf = ra_pages[~touched]
        pool.state[pf] = PREFETCHED
        pool.load_ns[pf] = ra_done[~touched]
        pool.last_use_ns[pf] = ra_done[~touched]
        pool.ref_bit[pf] = False
        pool.load_ns[ra_pages[touched]] = ra_done[touched]
        n_ra_used = int(np.count_nonzero(touched))

    # Final state of every distinct page touched.
    becomes_dirty = (
        written | (first_state == DIRTY) | (first_state == UNTOUCHED) | (first_state == WRITING)
    )
    lose_slot = becomes_dirty & (first_state != DIRTY) & (first_state != UNTOUCHED)
    pool.state[pages] = np.where(becomes_dirty, DIRTY, CLEAN).astype(np.int8)
    pool.free_slots += int(np.count_nonzero(lose_slot))
    pool.free_frames -= n_minor + n_faults + n_ra
    if n >= 64:
        vc.frames_per_ref = (n_minor + n_faults + n_ra) / n
    if n_rescue:
        sim.writing_pending -= n_rescue
        pool.rescues += 1
    pool.last_use_ns[pages] = ends[last_ref]
    pool.ref_bit[pages] = True
    newly = minor[:n].copy()
    newly[faults] = True
    pool.load_ns[gp[newly]] = ends[:n][newly]

    c.references[vm] += n
    c.cpu_ns[vm] += n * cpu
    c.minor_faults[vm] += n_minor + n_rescue
    c.fault_cpu_ns[vm] += (n_minor + n_rescue) * sim.minor_ns
    c.prefetch_used[vm] += int(np.count_nonzero(first_state == PREFETCHED)) + n_ra_used
    if n_faults:
        c.major_faults[vm] += n_faults
        c.stall_ns[vm] += int((cost[faults] - cpu).sum())
        c.swap_in_pages[vm] += n_faults + n_ra
        c.readahead_pages[vm] += n_ra
        c.prefetch_issued[vm] += n_ra
        sim.device.busy_until[sim.device.lane_of(pcpu)] = int(ends[faults[-1]] - cpu)
        extra_n = np.zeros(n_faults, dtype=np.int64) if extra is None else extra[fmask]
        sim.device.note_demand_reads(extra_n, 1 + ra_n, vm)
        busy = int(service[fmask].sum() + extra_n.sum())
        sim.device.account_demand_reads(n_faults, n_faults + n_ra, busy)
        fp = g[faults]
        flagged = pool.evicted_for_prefetch[fp]
        if flagged.any():
            c.pollution_faults[vm] += int(np.count_nonzero(flagged))
            pool.evicted_for_prefetch[fp] = False
        sim.policy.after_run(vm, pages, fp)
    else:
        sim.policy.after_run(vm, pages, fp_empty)
    vc.consume(n)
    return n, int(ends[n - 1])


SCRATCH_EMPTY = np.iinfo(np.int64).max
over_none = np.zeros(0, dtype=np.int64)
fp_empty = np.zeros(0, dtype=np.int64)
