"""Running one vCPU on one pCPU for a while: the per-reference model and its compiled twin.

`step_one` is the model, one reference at a time, small enough to check by eye. `run_fast`
hands references to the numba kernels of `engine.hotpath`, which do what step_one does one
reference at a time over the pool's arrays, and stop before any reference that needs Python
(a prefetch in flight, a policy's own readahead, injected device faults, a reclaim they do not
do themselves); that reference goes to `step_one`. So both executors compute the same thing,
and tests check that they do, exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from engine.device import WRITE_TO_FREE
from engine.hotpath.slots import GO_ON, NEEDS_PYTHON, WAIT_FOR_FRAME
from engine.hotpath.window import run_window
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


def direct_reclaim(sim: Machine, vc: VCpu, t: int, t_end: int) -> int:
    """Free at least one frame for a faulting vCPU, which waits meanwhile. Returns the time.

    Victims are taken now; clean ones free their frames at once, dirty ones are written at
    once (write-to-free class) and the vCPU waits for the first write to end. With nothing to
    evict and nothing in flight (a full swap device), it stalls to t_end: throttled, no loss.
    """
    freed = sim.reclaim(sim.host.reclaim_batch_pages, t, WRITE_TO_FREE, start_now=True)
    if freed > 0 or sim.pool.free_frames > 0:
        return t
    return wait_for_frame(sim, vc, t, t_end)


def wait_for_frame(sim: Machine, vc: VCpu, t: int, t_end: int) -> int:
    """Direct reclaim freed no frame at once: the faulting vCPU waits for the next operation
    to end (a write, most often) and sees it take effect. Returns the time."""
    c = sim.counters
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
        op = sim.reading_ops[int(sim.reading_seq[g])]
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


def run_fast(
    sim: Machine, vc: VCpu, pcpu: int, t: int, t_end: int, pending: int = GO_ON
) -> tuple[int, str]:
    """The compiled executor: same results as run_reference, the kernel running references
    until one needs Python (a prefetch in flight, a policy's own readahead or victims, ...).
    `pending` goes on after a kernel that stopped for that reason at t (the compiled step
    loop, engine.hotpath.steps, hands over so)."""
    why = pending
    while True:
        if why == WAIT_FOR_FRAME:
            t = wait_for_frame(sim, vc, t, t_end)
        elif why == NEEDS_PYTHON:
            t = step_one(sim, vc, pcpu, t, t_end)
            if vc.blocked_until >= 0:
                return t, BLOCK
        if t >= t_end:
            return t, RAN_TO_END
        if vc.stream_done():
            return t, DONE
        if vc.burst_left_ns <= 0:
            return t, SLEEP
        t, why = run_window(sim, vc, pcpu, t, t_end)


fp_empty = np.zeros(0, dtype=np.int64)  # no major-faulted pages, for after_run
