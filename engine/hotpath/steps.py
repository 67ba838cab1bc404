"""Quiet steps in one compiled call: the step boundaries of a run in which nothing but the pages
and the device has work (no scheduler event, no policy hook, no frame to record), and the
references of every running vCPU between them.

At each boundary (but the first, where Python has made it: C_BOUNDARY_DONE), as
`engine.simulator.Simulation._boundary` orders it: writes that ended take
effect, background reclaim takes victims from the policy's kept list of oldest pages, queued
writes are dispatched, the lanes are noted for the step's demand reads; then each pCPU runs its
vCPU through the step with `kernels.run_references`. The loop stops, leaving Python to go on
exactly where it stopped, at the start of a step it may not run (out[Q_PCPU] = -1) or at a
pCPU whose vCPU needs Python mid-step (a reference step_one must take, a slice, burst or
window that ended). The device's writes live in a table here (OP_* columns, with their class
and status apart) and become `engine.device.Op` objects again when the loop returns.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.hotpath.device_time import dispatch_queued
from engine.hotpath.kernels import run_references
from engine.hotpath.oldest import TOO_WIDE, oldest_pages
from engine.hotpath.reclaim import evict_pages, reclaim_kept
from engine.hotpath.slots import (
    D_STALL_NS,
    GO_ON,
    LIST_GONE,
    OP_DONE,
    OP_HI,
    OP_ISSUE,
    OP_LANE,
    OP_LO,
    OP_SEQ,
    OP_START,
    R_BEFORE_NS,
    R_COUNT_RESCUES,
    R_KEEP,
    R_REQUEUED,
    R_STEP_START_NS,
    R_WRITE_BATCH,
    R_WRITE_FAILURES,
    S_FREE_FRAMES,
    S_FREE_SLOTS,
    S_LIST_END,
    S_LIST_HEAD,
    S_N_OPS,
    S_OP_PAGES,
    S_RESCUES,
    S_WRITING_PENDING,
    V_SEQ,
    WAIT_FOR_FRAME,
)
from engine.page_states import SWAPPED, WRITING

# Status of a row of the write table.
QUEUED, IN_FLIGHT, LANDED = 0, 1, 2
WRITE_TO_FREE, BACKGROUND_WRITE = 1, 3  # engine.device's classes (the device imports hotpath)

# Slots of the loop's settings (an int64 array).
C_STEP_NS = 0
C_STOP_NS = 1  # the first step start the loop may not run (a scheduler event, a frame, until)
C_END_NS = 2  # the scenario's end
C_LOW_WM = 3
C_HIGH_WM = 4
C_MINOR_NS = 5
C_BOUNDARY_DONE = 6  # 1: Python made the first step's boundary; the loop starts at its pCPUs
N_CLOCK = 7

# Slots of where the loop stopped (an int64 array, in and out).
Q_T = 0  # the start of the step it stopped in (in: the first step's start)
Q_PCPU = 1  # -1: before that step's reclaim; else the pCPU that needs Python mid-step
Q_TIME = 2  # that pCPU's time
Q_WHY = 3  # and why its kernel stopped (kernels.GO_ON: a slice, burst or window ended)
Q_KEPT_HEAD = 4  # the kept list, kept[head:end] (in and out)
Q_KEPT_END = 5
N_WHERE = 6


@njit(cache=True, nogil=True)
def land_writes(
    now_ns: int,
    ops: np.ndarray,
    op_cls: np.ndarray,
    op_status: np.ndarray,
    op_pages: np.ndarray,
    state: np.ndarray,
    scalars: np.ndarray,
    swap_out: np.ndarray,
    pages_done: np.ndarray,
    ops_done: np.ndarray,
) -> None:
    """PagingServices.complete_until(now_ns) for successful writes that free frames: each one
    ended by now, in (end, sequence) order, turns its pages still WRITING into SWAPPED (a page
    rescued meanwhile keeps its frame) and counts them swapped out."""
    n_rows = scalars[S_N_OPS]
    while True:
        best, done_best, seq_best = -1, 0, 0
        for r in range(n_rows):
            if op_status[r] != IN_FLIGHT or ops[r, OP_DONE] > now_ns:
                continue
            if best < 0 or (ops[r, OP_DONE], ops[r, OP_SEQ]) < (done_best, seq_best):
                best, done_best, seq_best = r, ops[r, OP_DONE], ops[r, OP_SEQ]
        if best < 0:
            return
        lo, hi = ops[best, OP_LO], ops[best, OP_HI]
        freed = 0
        for i in range(lo, hi):
            if state[op_pages[i]] == WRITING:
                state[op_pages[i]] = SWAPPED
                freed += 1
        swap_out[ops[best, 0]] += freed
        scalars[S_FREE_FRAMES] += freed
        scalars[S_WRITING_PENDING] -= freed
        pages_done[op_cls[best]] += hi - lo
        ops_done[op_cls[best]] += 1
        op_status[best] = LANDED


@njit(cache=True, nogil=True)
def next_landing(ops: np.ndarray, op_status: np.ndarray, n_rows: int) -> int:
    """SwapDevice.next_completion_ns over the table's writes in flight (-1: none)."""
    first = -1
    for r in range(n_rows):
        if op_status[r] == IN_FLIGHT and (first < 0 or ops[r, OP_DONE] < first):
            first = ops[r, OP_DONE]
    return first


@njit(cache=True, nogil=True)
def compact(
    ops: np.ndarray,
    op_cls: np.ndarray,
    op_status: np.ndarray,
    op_pages: np.ndarray,
    scalars: np.ndarray,
) -> None:
    """Drop the landed rows, keeping the others (and their pages) in order at the front."""
    kept = 0
    n_pages = 0
    for r in range(scalars[S_N_OPS]):
        if op_status[r] == LANDED:
            continue
        lo, hi = ops[r, OP_LO], ops[r, OP_HI]
        for i in range(lo, hi):
            op_pages[n_pages + i - lo] = op_pages[i]
        for col in range(ops.shape[1]):
            ops[kept, col] = ops[r, col]
        ops[kept, OP_LO], ops[kept, OP_HI] = n_pages, n_pages + hi - lo
        op_cls[kept], op_status[kept] = op_cls[r], op_status[r]
        n_pages += hi - lo
        kept += 1
    scalars[S_N_OPS], scalars[S_OP_PAGES] = kept, n_pages


@njit(cache=True, nogil=True)
def dispatch_writes(
    now_ns: int,
    step_end_ns: int,
    device: np.ndarray,
    busy_until: np.ndarray,
    spare_lanes: np.ndarray,
    demand_lanes: np.ndarray,
    ops: np.ndarray,
    op_cls: np.ndarray,
    op_status: np.ndarray,
    scalars: np.ndarray,
    busy_ns: np.ndarray,
) -> None:
    """SwapDevice.dispatch of the queued writes (in the order they were queued: all of one
    class) without injected faults."""
    n_rows = scalars[S_N_OPS]
    rows = np.empty(n_rows, dtype=np.int64)
    k = 0
    for r in range(n_rows):
        if op_status[r] == QUEUED:
            rows[k] = r
            k += 1
    if k == 0:
        return
    issue = np.empty(k, dtype=np.int64)
    pages = np.empty(k, dtype=np.int64)
    write = np.ones(k, dtype=np.bool_)
    for i in range(k):
        issue[i] = ops[rows[i], OP_ISSUE]
        pages[i] = ops[rows[i], OP_HI] - ops[rows[i], OP_LO]
    lane, start, done = np.empty(k, np.int64), np.empty(k, np.int64), np.empty(k, np.int64)
    started, _ = dispatch_queued(
        device, busy_until, spare_lanes, demand_lanes, now_ns, step_end_ns, issue, pages, write,
        False, lane, start, done,
    )  # fmt: skip
    for i in range(started):
        r = rows[i]
        ops[r, OP_LANE], ops[r, OP_START], ops[r, OP_DONE] = lane[i], start[i], done[i]
        op_status[r] = IN_FLIGHT
        busy_ns[op_cls[r]] += done[i] - start[i]


@njit(cache=True, nogil=True)
def background_reclaim(
    now_ns: int,
    clock: np.ndarray,
    n_vms: int,
    reclaim: np.ndarray,
    kept_pages: np.ndarray,
    kept_keys: np.ndarray,
    where: np.ndarray,
    state: np.ndarray,
    keys_now: np.ndarray,
    vm_of: np.ndarray,
    scalars: np.ndarray,
    wasted: np.ndarray,
    refused: np.ndarray,
    device: np.ndarray,
    ops: np.ndarray,
    op_cls: np.ndarray,
    op_status: np.ndarray,
    op_pages: np.ndarray,
) -> bool:
    """Machine.background_reclaim from the kept list, its writes queued as submit queues them;
    False (nothing done) where Python must reclaim: a full swap device, a list voided or too
    short, no room in the write table."""
    free = scalars[S_FREE_FRAMES]
    short = clock[C_HIGH_WM] - free - scalars[S_WRITING_PENDING]
    if not (free < clock[C_LOW_WM] and short > 0):
        return True
    if scalars[S_FREE_SLOTS] == 0:
        return False
    requeued = reclaim[R_WRITE_FAILURES] + (scalars[S_RESCUES] if reclaim[R_COUNT_RESCUES] else 0)
    batch = reclaim[R_WRITE_BATCH]
    n_rows = scalars[S_N_OPS]
    room_rows = ops.shape[0] - n_rows - n_vms - 1
    if short // batch > room_rows or scalars[S_OP_PAGES] + short > op_pages.size:
        return False
    head, end = where[Q_KEPT_HEAD], where[Q_KEPT_END]
    taken = -1
    if requeued == reclaim[R_REQUEUED]:
        taken = reclaim_kept(
            kept_pages[head:end], kept_keys[head:end], reclaim[R_BEFORE_NS], short, now_ns,
            state, keys_now, vm_of, scalars, wasted, refused, batch, ops, op_pages,
        )  # fmt: skip
    if taken >= 0:
        where[Q_KEPT_HEAD] = head + taken
    elif not select_and_evict(
        now_ns, short, requeued, reclaim, kept_pages, kept_keys, where, state, keys_now, vm_of,
        scalars, wasted, refused, ops, op_pages,
    ):  # fmt: skip
        return False
    for r in range(n_rows, scalars[S_N_OPS]):
        op_cls[r], op_status[r] = BACKGROUND_WRITE, QUEUED
        ops[r, OP_LANE], ops[r, OP_START], ops[r, OP_DONE] = -1, -1, -1
        ops[r, OP_SEQ] = device[V_SEQ]
        device[V_SEQ] += 1
    return True


@njit(cache=True, nogil=True)
def select_and_evict(
    now_ns: int,
    n: int,
    requeued: int,
    reclaim: np.ndarray,
    kept_pages: np.ndarray,
    kept_keys: np.ndarray,
    where: np.ndarray,
    state: np.ndarray,
    keys_now: np.ndarray,
    vm_of: np.ndarray,
    scalars: np.ndarray,
    wasted: np.ndarray,
    refused: np.ndarray,
    ops: np.ndarray,
    op_pages: np.ndarray,
) -> bool:
    """victims.Oldest's full selection when its kept list cannot supply n victims (made at
    this step's start, kept in kept_pages), then evict_pages of the n oldest, their writes
    recorded and not started; False (nothing done) where the keys do not pack (Python
    selects) or the buffer is too short for the selection."""
    want = max(n, reclaim[R_KEEP])
    if want > kept_pages.size:
        return False
    count = oldest_pages(state, keys_now, want, kept_pages, kept_keys)
    if count == TOO_WIDE:
        return False
    reclaim[R_BEFORE_NS] = now_ns
    reclaim[R_REQUEUED] = requeued
    out = min(n, count)
    # Keys from this very step among the n oldest: hand them out and keep nothing.
    keep_none = count < n or kept_keys[n - 1] >= now_ns
    no_lanes = np.zeros(0, dtype=np.int64)  # (a global array would be read-only here)
    evict_pages(
        kept_pages[:out].copy(), now_ns, state, vm_of, scalars, wasted, refused,
        reclaim[R_WRITE_BATCH], False, no_lanes, no_lanes, ops, op_pages,
    )  # fmt: skip
    where[Q_KEPT_HEAD] = count if keep_none else out
    where[Q_KEPT_END] = count
    return True


@njit(cache=True, nogil=True)
def run_pcpu(
    p: int,
    now_ns: int,
    step_end_ns: int,
    clock: np.ndarray,
    where: np.ndarray,
    slice_end: np.ndarray,
    pcpu_time: np.ndarray,
    vcpu_of: np.ndarray,
    stream: np.ndarray,
    refs: np.ndarray,
    writes: np.ndarray,
    state: np.ndarray,
    last_use_ns: np.ndarray,
    load_ns: np.ndarray,
    ref_bit: np.ndarray,
    evicted_for_prefetch: np.ndarray,
    scalars: np.ndarray,
    deltas: np.ndarray,
    device: np.ndarray,
    busy_until: np.ndarray,
    boundary_busy: np.ndarray,
    mark: np.ndarray,
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
    op_cls: np.ndarray,
    op_status: np.ndarray,
    op_pages: np.ndarray,
    swap_out: np.ndarray,
    pages_done: np.ndarray,
    ops_done: np.ndarray,
    fault_rows: np.ndarray,
    fault_config: np.ndarray,
    prefetch_used: np.ndarray,
) -> bool:
    """Simulation._run_pcpu of pCPU p through the step, its vCPU's references run by the
    kernel (and its waits for a write, as run_fast makes them); False where Python must go
    on (where[Q_TIME], where[Q_WHY] say from what)."""
    if vcpu_of[p] < 0:  # idle with nothing runnable: it stays idle through the step
        pcpu_time[p] = step_end_ns
        return True
    # stream's columns per pCPU: VM, first page, past its last page, cpu_ns, burst left,
    # readahead cluster, device lane, next reference in refs, past its last one.
    vm, vm_lo, vm_hi, cpu_ns = stream[p, 0], stream[p, 1], stream[p, 2], stream[p, 3]
    t = max(pcpu_time[p], now_ns)
    t_stop = min(step_end_ns, slice_end[p])
    why = GO_ON
    no_pages = np.empty(0, dtype=np.int64)
    counts = np.zeros(2, dtype=np.int64)
    while t < t_stop:
        pos, hi = stream[p, 7], stream[p, 8]
        if stream[p, 4] <= 0 or pos >= hi:
            break  # the burst is over or the window ran out: Python looks at the vCPU
        first_row = scalars[S_N_OPS]
        scalars[S_LIST_HEAD] = 0
        scalars[S_LIST_END] = -1
        head, end = where[Q_KEPT_HEAD], where[Q_KEPT_END]
        n, t, why = run_references(
            refs[pos:hi], writes[pos:hi], vm_lo, vm_hi, cpu_ns, t, t_stop, stream[p, 4],
            clock[C_MINOR_NS], stream[p, 5], False, refs[pos:hi], 0, 0,
            state, last_use_ns, load_ns, ref_bit, evicted_for_prefetch, scalars, deltas[vm],
            device, busy_until, boundary_busy, stream[p, 6], False, mark, no_pages, no_pages,
            counts, reclaim, kept_pages[head:end], kept_keys[head:end], list_pages, list_keys,
            keys_now, vm_of, wasted, refused, victims, ops, op_pages, fault_rows, fault_config,
            vm, prefetch_used[vm],
        )  # fmt: skip
        stream[p, 7] += n
        stream[p, 4] -= n * cpu_ns
        # The kept list as window.run_window keeps it.
        made = scalars[S_LIST_END]
        if made >= 0:
            taken = scalars[S_LIST_HEAD]
            for i in range(made - taken):
                kept_pages[i] = list_pages[taken + i]
                kept_keys[i] = list_keys[taken + i]
            where[Q_KEPT_HEAD], where[Q_KEPT_END] = 0, made - taken
        elif made == LIST_GONE:
            where[Q_KEPT_HEAD], where[Q_KEPT_END] = 0, 0
        else:
            where[Q_KEPT_HEAD] = head + scalars[S_LIST_HEAD]
        for r in range(first_row, scalars[S_N_OPS]):  # direct reclaim's writes, started
            op_cls[r], op_status[r] = WRITE_TO_FREE, IN_FLIGHT
        if why == WAIT_FOR_FRAME:
            # executor.wait_for_frame: the vCPU waits for the next write to end and sees it
            # (and any other ended by then) take effect.
            next_done = next_landing(ops, op_status, scalars[S_N_OPS])
            if next_done < 0:
                break  # nothing in flight: Python counts a full swap device's stall
            next_done = max(next_done, t)
            deltas[vm, D_STALL_NS] += next_done - t
            land_writes(
                next_done, ops, op_cls, op_status, op_pages, state, scalars, swap_out,
                pages_done, ops_done,
            )  # fmt: skip
            t, why = next_done, GO_ON
            continue
        if why != GO_ON:
            break
    where[Q_TIME], where[Q_WHY] = t, why
    if why != GO_ON or t < t_stop or t >= slice_end[p]:
        return False  # a reference for step_one, a wait, a burst, window or slice that ended
    pcpu_time[p] = t
    return True


@njit(cache=True, nogil=True)
def run_steps(
    clock: np.ndarray,
    where: np.ndarray,
    n_vms: int,
    slice_end: np.ndarray,
    pcpu_time: np.ndarray,
    vcpu_of: np.ndarray,
    stream: np.ndarray,
    refs: np.ndarray,
    writes: np.ndarray,
    state: np.ndarray,
    last_use_ns: np.ndarray,
    load_ns: np.ndarray,
    ref_bit: np.ndarray,
    evicted_for_prefetch: np.ndarray,
    scalars: np.ndarray,
    deltas: np.ndarray,
    device: np.ndarray,
    busy_until: np.ndarray,
    boundary_busy: np.ndarray,
    spare_lanes: np.ndarray,
    demand_lanes: np.ndarray,
    pages_done: np.ndarray,
    ops_done: np.ndarray,
    busy_ns: np.ndarray,
    mark: np.ndarray,
    reclaim: np.ndarray,
    kept_pages: np.ndarray,
    kept_keys: np.ndarray,
    list_pages: np.ndarray,
    list_keys: np.ndarray,
    keys_now: np.ndarray,
    vm_of: np.ndarray,
    wasted: np.ndarray,
    refused: np.ndarray,
    swap_out: np.ndarray,
    victims: np.ndarray,
    ops: np.ndarray,
    op_cls: np.ndarray,
    op_status: np.ndarray,
    op_pages: np.ndarray,
    fault_rows: np.ndarray,
    fault_config: np.ndarray,
    prefetch_used: np.ndarray,
) -> None:
    """Run steps from where[Q_T] until one Python must run (see the module's docstring);
    where says where it stopped. Each pCPU's vCPU (vcpu_of[p], -1: idle) runs the references
    refs[stream[p, 7]:stream[p, 8]] (pages relative to its VM) with writes alike. With rows
    in fault_rows a major fault reads the pages they pick (engine.hotpath.row_fault), the VM's
    prefetched pages used so far being prefetch_used (as at the call) plus deltas' count."""
    step_ns, stop_ns, end_ns = clock[C_STEP_NS], clock[C_STOP_NS], clock[C_END_NS]
    t_step = where[Q_T]
    where[Q_PCPU] = -1
    boundary_done = clock[C_BOUNDARY_DONE] != 0
    while t_step < stop_ns and t_step < end_ns:
        where[Q_T] = t_step
        step_end = min(t_step + step_ns, end_ns)
        reclaim[R_STEP_START_NS] = t_step
        if not boundary_done:
            land_writes(
                t_step, ops, op_cls, op_status, op_pages, state, scalars, swap_out, pages_done,
                ops_done,
            )  # fmt: skip
            compact(ops, op_cls, op_status, op_pages, scalars)
            if not background_reclaim(
                t_step, clock, n_vms, reclaim, kept_pages, kept_keys, where, state, keys_now,
                vm_of, scalars, wasted, refused, device, ops, op_cls, op_status, op_pages,
            ):  # fmt: skip
                return
            dispatch_writes(
                t_step, step_end, device, busy_until, spare_lanes, demand_lanes, ops, op_cls,
                op_status, scalars, busy_ns,
            )  # fmt: skip
            boundary_busy[:] = busy_until
        boundary_done = False
        for p in range(slice_end.size):
            if not run_pcpu(
                p, t_step, step_end, clock, where, slice_end, pcpu_time, vcpu_of, stream, refs,
                writes, state, last_use_ns, load_ns, ref_bit, evicted_for_prefetch, scalars,
                deltas, device, busy_until, boundary_busy, mark, reclaim, kept_pages, kept_keys,
                list_pages, list_keys, keys_now, vm_of, wasted, refused, victims, ops, op_cls,
                op_status, op_pages, swap_out, pages_done, ops_done, fault_rows, fault_config,
                prefetch_used,
            ):  # fmt: skip
                where[Q_PCPU] = p
                return
        t_step = step_end
    where[Q_T] = t_step
