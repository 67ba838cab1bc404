"""The Python side of the compiled hot path: hands a window of a vCPU's references to the
kernel with the pool's arrays, and books what the kernel did into the simulation's objects
(scalars, counters, device statistics, the policy's after_run)."""

from __future__ import annotations

import heapq
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from engine.device import DEMAND_READ, WRITE_TO_FREE, Op
from engine.hotpath import kernels as k
from engine.hotpath import slots as sl
from engine.hotpath.row_config import N_CONFIG

if TYPE_CHECKING:
    from engine.machine import Machine
    from engine.policies.victims import Oldest
    from engine.vcpu import VCpu

MAX_WINDOW = 1 << 15  # references handed to the kernel at once (bounds the stream drawn ahead)
MAX_WRITES = 256  # write operations one kernel call may record before it hands over to Python
NO_PAGES = np.zeros(0, dtype=np.int64)
NO_VMS = np.zeros(0, dtype=np.int16)
NO_FLAGS = np.zeros(0, dtype=bool)
NO_OPS = np.zeros((0, sl.N_OP_COLUMNS), dtype=np.int64)
# No rows of a policy's own fault read (engine.hotpath.row_fault): the kernel makes none.
NO_FAULT_ROWS = np.zeros((0, 0), dtype=np.int64)
NO_FAULT_CONFIG = np.zeros(N_CONFIG, dtype=np.int64)
# Direct reclaim off: its settings say so, and its arrays are empty ones of the right types.
NO_RECLAIM = (
    np.zeros(sl.N_RECLAIM, dtype=np.int64), NO_PAGES, NO_PAGES, NO_PAGES, NO_PAGES, NO_PAGES,
    NO_VMS, NO_PAGES, NO_PAGES, NO_PAGES, NO_OPS, NO_PAGES,
)  # fmt: skip


def wants_after_run(sim: Machine) -> bool:
    """Whether the policy looks at the pages each run touched (the base class ignores them)."""
    # By where the method comes from: importing the policies here would close an import cycle
    # (the policies package imports the executor).
    return type(sim.policy).after_run.__module__ != "engine.policies.base"


def kernel_victims(sim: Machine, may_reclaim: bool) -> Oldest | None:
    """The policy's kept list of oldest pages when the kernel may reclaim from it itself: the
    policy offers one (a plain LRU or FIFO order), no injected device faults (they decide
    writes in Python), and no after_run to feed (its pages must be seen before any of them
    is evicted)."""
    if not may_reclaim:
        return None
    victim_list = getattr(sim.policy, "victim_list", None)
    if victim_list is None:
        return None
    oldest: Oldest | None = victim_list()
    return oldest


class Workspace:
    """One simulation's buffers for the kernels and the settings they read, made once: a
    call then allocates nothing and reads no param attribute (both cost more than a short
    window of references)."""

    def __init__(self, sim: Machine):
        host, dev = sim.host, sim.device
        self.batch = int(host.reclaim_batch_pages)
        self.write_batch = int(host.write_batch_pages)
        self.scalars = np.zeros(sl.N_SCALARS, dtype=np.int64)
        self.device = np.zeros(sl.N_DEVICE, dtype=np.int64)
        self.device[sl.V_LATENCY_NS] = dev.latency_ns
        self.device[sl.V_PAGE_NS] = dev.page_transfer_ns
        self.device[sl.V_OP_NS] = dev.read_op_ns
        self.device[sl.V_WRITE_PAGE_NS] = dev.write_page_ns
        self.device[sl.V_WRITE_OP_NS] = dev.write_op_ns
        self.delta = np.zeros(sl.N_DELTAS, dtype=np.int64)
        self.counts = np.zeros(2, dtype=np.int64)
        self.touched = np.empty(MAX_WINDOW, dtype=np.int64)
        self.majors = np.empty(MAX_WINDOW, dtype=np.int64)
        self.reclaim = np.zeros(sl.N_RECLAIM, dtype=np.int64)
        self.victims = np.empty(self.batch, dtype=np.int64)
        self.ops = np.empty((MAX_WRITES, sl.N_OP_COLUMNS), dtype=np.int64)
        self.op_pages = np.empty(MAX_WRITES * self.batch, dtype=np.int64)
        # The policy's and the fault model's switches are fixed for a run.
        self.collect = wants_after_run(sim)
        # Python decides a major fault when the policy picks its own readahead (unless the
        # kernel can, from the policy's rows), when the vCPU yields its pCPU on a fault, and
        # when the device may inject faults into the read.
        policy = sim.policy
        own_read = not (sim.yield_on_fault or policy.vector_readahead or sim.faults.device_faults)
        rows = policy.row_fault_read() if own_read else None
        self.fault_rows, self.fault_config = (
            rows if rows is not None else (NO_FAULT_ROWS, NO_FAULT_CONFIG)
        )
        self.python_on_major = bool(
            sim.yield_on_fault
            or (not policy.vector_readahead and rows is None)
            or sim.faults.device_faults
        )
        # Per VM (references scanned, most pages) of a policy's own fault read that the
        # kernel makes itself (engine.hotpath.stream_fault); (0, 0): Python decides it.
        self.stream_read = np.zeros((len(sim.pool.vm_pages), 2), dtype=np.int64)
        if own_read and rows is None:
            for vm in range(self.stream_read.shape[0]):
                self.stream_read[vm] = policy.stream_fault_read(vm)
        self.may_reclaim = not (sim.faults.device_faults or self.collect)
        # The kept list (one object for the run: its pages change, not its identity), with
        # direct reclaim's settings that do not change either.
        self.oldest = kernel_victims(sim, self.may_reclaim)
        self.reclaim[sl.R_ENABLED] = 1
        self.reclaim[sl.R_BATCH] = self.batch
        self.reclaim[sl.R_WRITE_BATCH] = self.write_batch
        # Where the kernel makes the kept list again when it runs short (kernels.remake_kept).
        self.list_pages = self.list_keys = NO_PAGES
        if self.oldest is not None:
            self.reclaim[sl.R_COUNT_RESCUES] = self.oldest.key != "last_use_ns"  # see _requeued
            self.reclaim[sl.R_KEEP] = self.oldest.keep
            self.list_pages = np.empty(max(self.batch, self.oldest.keep), dtype=np.int64)
            self.list_keys = np.empty_like(self.list_pages)
        # What run_window reads and books at every call, looked up once (as Python values
        # where they are fixed for the run: a numpy element costs more to read than a list's).
        self.pool, self.dev, self.counters = sim.pool, sim.device, sim.counters
        self.delta_counters = [getattr(sim.counters, name) for name in sl.DELTA_COUNTERS]
        self.stream_reads = [(int(r), int(p)) for r, p in self.stream_read.tolist()]
        self.vm_lo = [int(b) for b in sim.pool.base.tolist()]


_WORKSPACES: weakref.WeakKeyDictionary[Machine, Workspace] = weakref.WeakKeyDictionary()


# The last simulation that asked and its Workspace (weakly held, read in one go: threads may
# run simulations side by side).
_last: tuple[weakref.ref[Machine], weakref.ref[Workspace]] | None = None


def workspace(sim: Machine) -> Workspace:
    """The simulation's Workspace, made on first use (the last one asked for is found
    without a lookup: a simulation asks thousands of times in a row)."""
    global _last
    last = _last
    if last is not None and last[0]() is sim:
        ws = last[1]()
        if ws is not None:
            return ws
    ws = _WORKSPACES.get(sim)
    if ws is None:
        ws = _WORKSPACES[sim] = Workspace(sim)
    _last = (weakref.ref(sim), weakref.ref(ws))
    return ws


def reclaim_args(ws: Workspace, step_start_ns: int) -> tuple[np.ndarray, ...]:
    """The arguments kernels.direct_reclaim works from: its settings, the kept list (and room
    to make it again), the pool's keys, counters and room to record the writes it starts."""
    oldest = ws.oldest
    if oldest is None:
        return NO_RECLAIM
    pool, c = ws.pool, ws.counters
    settings = ws.reclaim
    settings[sl.R_BEFORE_NS] = oldest.before_ns
    settings[sl.R_REQUEUED] = oldest.requeued
    settings[sl.R_WRITE_FAILURES] = pool.write_failures
    settings[sl.R_STEP_START_NS] = step_start_ns
    return (
        settings,
        oldest.pages,
        oldest.keys,
        ws.list_pages,
        ws.list_keys,
        getattr(pool, oldest.key),
        pool.vm_of,
        c.prefetch_wasted,
        c.swap_full_refused_pages,
        ws.victims,
        ws.ops,
        ws.op_pages,
    )


def put_writes_in_flight(sim: Machine, ops: np.ndarray, op_pages: np.ndarray, n: int) -> None:
    """The writes the kernel started become device operations in flight, as start_now makes
    them (their lanes, times and sequence numbers were set in the kernel)."""
    if n == 0:
        return
    rows = ops[:n].tolist()
    # One copy for all (the buffer is the next call's); each operation views its own part.
    pages = op_pages[: max(row[sl.OP_HI] for row in rows)].copy()
    in_flight = sim.device.in_flight
    for vm, issue, lane, start, done, seq, lo, hi in rows:
        op = Op(WRITE_TO_FREE, vm, pages[lo:hi], issue, start, done, lane, seq)
        heapq.heappush(in_flight, (done, seq, op))


def paging_state_in(sim: Machine, ws: Workspace) -> None:
    """The pool's and paging's scalars and the device's demand-read figures into the arrays
    the kernels update (the other scalars zeroed)."""
    pool, dev, scalars, device = ws.pool, ws.dev, ws.scalars, ws.device
    scalars.fill(0)
    scalars[sl.S_FREE_FRAMES] = pool.free_frames
    scalars[sl.S_FREE_SLOTS] = pool.free_slots
    scalars[sl.S_RESCUES] = pool.rescues
    scalars[sl.S_WRITING_PENDING] = sim.writing_pending
    device[sl.V_PAGES_DONE] = dev.pages_done[DEMAND_READ]
    device[sl.V_BUSY_NS] = dev.busy_ns[DEMAND_READ]
    device[sl.V_OPS_DONE] = dev.ops_done[DEMAND_READ]
    device[sl.V_DEMAND_OPS] = dev.demand_ops
    device[sl.V_WRITE_BUSY_NS] = dev.busy_ns[WRITE_TO_FREE]
    device[sl.V_SEQ] = dev.seq


def paging_state_out(sim: Machine, ws: Workspace) -> None:
    """What the kernels left in those arrays back into the pool, paging and the device."""
    pool, dev = ws.pool, ws.dev
    scalars, device = ws.scalars.tolist(), ws.device.tolist()  # one read each, as ints
    pool.free_frames = scalars[sl.S_FREE_FRAMES]
    pool.free_slots = scalars[sl.S_FREE_SLOTS]
    pool.rescues = scalars[sl.S_RESCUES]
    sim.writing_pending = scalars[sl.S_WRITING_PENDING]
    dev.pages_done[DEMAND_READ] = device[sl.V_PAGES_DONE]
    dev.busy_ns[DEMAND_READ] = device[sl.V_BUSY_NS]
    dev.ops_done[DEMAND_READ] = device[sl.V_OPS_DONE]
    dev.demand_ops = device[sl.V_DEMAND_OPS]
    dev.busy_ns[WRITE_TO_FREE] = device[sl.V_WRITE_BUSY_NS]
    dev.seq = device[sl.V_SEQ]


def window_refs(vc: VCpu, t: int, t_end: int) -> int:
    """The references run_window hands the kernel from t: no more than time, the burst and
    the stream allow even if every reference were a hit (nor than MAX_WINDOW)."""
    cpu = vc.cpu_ns
    n_time = -(-(t_end - t) // cpu)
    n_burst = -(-vc.burst_left_ns // cpu)
    return int(min(n_time, n_burst, MAX_WINDOW, vc.refs_left()))


def run_window(sim: Machine, vc: VCpu, pcpu: int, t: int, t_end: int) -> tuple[int, int]:
    """Run the vCPU's next references in the kernel from t; returns (new time, why it
    stopped: kernels.GO_ON, NEEDS_PYTHON or WAIT_FOR_FRAME). The window is no longer than
    time, the burst and the stream allow even if every reference were a hit, so no reference
    is drawn in vain."""
    ws = workspace(sim)
    pool, dev, vm = ws.pool, ws.dev, vc.vm
    cpu = vc.cpu_ns
    w = window_refs(vc, t, t_end)
    scan_refs, scan_pages = ws.stream_reads[vm]
    ahead, writes = vc.stream.take(vc.pos, w + scan_refs)  # a fault read scans past w
    rel, writes = ahead[:w], writes[:w]
    scalars, device, delta, counts = ws.scalars, ws.device, ws.delta, ws.counts
    paging_state_in(sim, ws)
    scalars[sl.S_LIST_END] = -1  # no list made yet
    delta.fill(0)
    counts.fill(0)
    collect = ws.collect
    touched, majors = ws.touched, ws.majors
    oldest = ws.oldest
    reclaim = reclaim_args(ws, sim.now_ns)
    vm_lo = ws.vm_lo[vm]
    # (numba's Dispatcher is typed with a fixed number of arguments, fewer than these)
    kernel: Callable[..., tuple[int, int, int]] = k.run_references
    n, t_new, why = kernel(
        rel, writes, vm_lo, vm_lo + vc.vm_pages, cpu, t, t_end, vc.burst_left_ns, sim.minor_ns,
        int(sim.ra_cluster[vm]), ws.python_on_major and scan_refs == 0, ahead, scan_refs,
        scan_pages,
        pool.state, pool.last_use_ns, pool.load_ns, pool.ref_bit,
        pool.evicted_for_prefetch if pool.any_evicted_for_prefetch else NO_FLAGS,
        scalars, delta, device, dev.busy_until, dev.boundary_busy, dev.lane_of(pcpu),
        collect, sim.mark, touched, majors, counts, *reclaim, ws.fault_rows, ws.fault_config, vm,
        int(ws.counters.prefetch_used[vm]),
    )  # fmt: skip
    paging_state_out(sim, ws)
    if oldest is not None:
        head = int(scalars[sl.S_LIST_HEAD])
        end = int(scalars[sl.S_LIST_END])
        if end >= 0:  # the kernel made the list again (the buffers are the next call's)
            oldest.pages = ws.list_pages[head:end].copy()
            oldest.keys = ws.list_keys[head:end].copy()
            oldest.before_ns = int(ws.reclaim[sl.R_BEFORE_NS])
            oldest.requeued = int(ws.reclaim[sl.R_REQUEUED])
        elif end == sl.LIST_GONE:  # its next selection makes the list again
            oldest.pages, oldest.keys = NO_PAGES, NO_PAGES
        else:
            oldest.pages, oldest.keys = oldest.pages[head:], oldest.keys[head:]
        put_writes_in_flight(sim, ws.ops, ws.op_pages, int(scalars[sl.S_N_OPS]))
    for counter, value in zip(ws.delta_counters, delta.tolist(), strict=True):
        if value:
            counter[vm] += value
    if n:
        vc.consume(int(n))
    if collect:
        n_touched, n_major = int(counts[0]), int(counts[1])
        k.clear_marks(sim.mark, touched, n_touched)
        if n_touched:
            # Copies: the buffers are the next call's.
            sim.policy.after_run(vm, touched[:n_touched].copy(), majors[:n_major].copy())
    return int(t_new), int(why)
