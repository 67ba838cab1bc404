"""Runs of quiet steps for `Simulation.run`: steps whose boundary needs no Python (no scheduler
event, no policy hook, no frame to record, the device holding only writes of evicted pages)
handed to one compiled call (`engine.hotpath.steps.run_steps`), which runs as many of them as
it can and stops exactly where Python must go on.

Same results as `Simulation.step`, step after step: the compiled loop does what the boundary
and the fast executor do, in the same order; `tests/property` and the golden figures check it.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING, Protocol

import numpy as np

from engine.device import BACKGROUND_WRITE, WRITE_CLASSES, Op
from engine.executor import run_fast
from engine.hotpath import slots as sl
from engine.hotpath import steps as st
from engine.hotpath.window import (
    MAX_WINDOW,
    NO_FLAGS,
    Workspace,
    paging_state_in,
    paging_state_out,
    workspace,
)
from engine.policies.base import Policy
from engine.vcpu import BLOCKED, RUNNING, SLEEPING

if TYPE_CHECKING:
    from engine.device import SwapDevice
    from engine.machine import Machine
    from engine.recording import Recorder
    from engine.scheduler import BaseScheduler
    from engine.vcpu import VCpu


class Simulation(Protocol):
    """What the quiet steps read and set of engine.simulator.Simulation, whose step loop they
    are: named here so that this module does not import the simulator that imports it."""

    now_ns: int  # set: the quiet steps move the run's clock

    # Read only (properties, so the simulator's own narrower types fit):
    @property
    def machine(self) -> Machine: ...
    @property
    def policy(self) -> Policy: ...
    @property
    def recorder(self) -> Recorder | None: ...
    @property
    def scheduler(self) -> BaseScheduler: ...
    @property
    def vcpus(self) -> list[VCpu]: ...
    @property
    def run_vcpu(self) -> object: ...
    @property
    def unlimited(self) -> bool: ...
    @property
    def n_pcpus(self) -> int: ...
    @property
    def step_ns(self) -> int: ...
    @property
    def end_ns(self) -> int: ...
    @property
    def running(self) -> list[int]: ...
    @property
    def slice_end(self) -> list[int]: ...
    @property
    def pcpu_time(self) -> list[int]: ...
    @property
    def _plan_version(self) -> int: ...

    def _run_pcpu(
        self, p: int, T: int, T_end: int, resume: tuple[int, int] | None = None
    ) -> None: ...


MIN_STEPS = 2  # a shorter run of quiet steps costs more to set up than a step in Python
MAX_REFS = 8 * MAX_WINDOW  # references one call may run per vCPU (the stream drawn ahead)
MIN_WINDOW = 1024  # references a call hands each vCPU at least (bar the time or the stream)


def may_run_quiet(sim: Simulation) -> bool:
    """Whether the run's fixed settings allow quiet steps at all: the compiled executor, a
    policy that does nothing at a boundary (`quiet_boundary`, no on_step of its own, the
    aligned readahead cluster or a fault read the kernel makes from the policy's rows), no
    injected device fault. (QuietSteps checks the kernel's workspace when the run starts.)"""
    if sim.run_vcpu is not run_fast or sim.unlimited or sim.machine.faults.device_faults:
        return False
    policy = sim.policy
    return bool(
        getattr(policy, "quiet_boundary", False)
        and type(policy).on_step is Policy.on_step
        and (policy.vector_readahead or policy.row_fault_read() is not None)
    )


def kernel_reclaims_alone(ws: Workspace) -> bool:
    """Whether the kernels' workspace lets the loop run: victims from a kept list the kernel
    may reclaim from, no after_run to feed, no major fault Python decides."""
    return (
        ws.oldest is not None
        and not ws.collect
        and not ws.python_on_major
        and not ws.stream_read.any()
    )


class QuietSteps:
    """One simulation's buffers for the compiled step loop, made when the run starts (the
    kernels' workspace is made then, as run_window makes it: with the policy as it is then)."""

    def __init__(self, sim: Simulation):
        self._ws: Workspace | None = None
        self.possible = True

    @property
    def ws(self) -> Workspace:
        assert self._ws is not None, "made by the first advance"
        return self._ws

    def _setup(self, sim: Simulation) -> None:
        m = sim.machine
        self._ws = ws = workspace(m)
        self.possible = kernel_reclaims_alone(ws)
        n_p = sim.n_pcpus
        self.clock = np.zeros(st.N_CLOCK, dtype=np.int64)
        self.clock[st.C_STEP_NS] = sim.step_ns
        self.clock[st.C_END_NS] = sim.end_ns
        self.clock[st.C_LOW_WM] = m.low_wm
        self.clock[st.C_HIGH_WM] = m.high_wm
        self.clock[st.C_MINOR_NS] = m.minor_ns
        self.where = np.zeros(st.N_WHERE, dtype=np.int64)
        self.slice_end = np.zeros(n_p, dtype=np.int64)
        self.pcpu_time = np.zeros(n_p, dtype=np.int64)
        self.vcpu_of = np.zeros(n_p, dtype=np.int64)
        self.stream = np.zeros((n_p, 9), dtype=np.int64)
        self.deltas = np.zeros((m.n_vms, sl.N_DELTAS), dtype=np.int64)
        # Room for a few reclaims' writes; the table grows when the device holds more at the
        # start of a call (and a call that fills it hands over to Python, which has room).
        self.room_pages = min(2 * m.pool.frames, 4 * m.high_wm) + 4 * ws.batch
        self._make_table(0, 0)
        self.kept_pages = np.zeros(0, dtype=np.int64)
        self.kept_keys = np.zeros(0, dtype=np.int64)
        # References per ns each vCPU made in its last quiet run (its CPU pace at first).
        self.pace = [1.0 / vc.cpu_ns for vc in sim.vcpus]
        self.start_time = np.zeros(n_p, dtype=np.int64)

    def _make_table(self, rows_now: int, pages_now: int) -> None:
        """The write table with room for rows_now writes of pages_now pages and room_pages
        more pages (in writes of at least one page each)."""
        ws = self.ws
        n_pages = pages_now + self.room_pages
        rows = rows_now + 64 + 2 * (n_pages // max(1, ws.write_batch) + len(self.deltas))
        rows += 4 * ws.batch
        self.ops = np.zeros((rows, sl.N_OP_COLUMNS), dtype=np.int64)
        self.op_cls = np.zeros(rows, dtype=np.int64)
        self.op_status = np.zeros(rows, dtype=np.int64)
        self.op_pages = np.zeros(n_pages, dtype=np.int64)

    def stop_ns(self, sim: Simulation, until_ns: int) -> int:
        """The first step start the loop may not run: until_ns, the scheduler's next event,
        the next wake-up and the next frame to record."""
        stop = min(until_ns, sim.scheduler.next_event_ns())
        for vc in sim.vcpus:
            if vc.status == SLEEPING:
                stop = min(stop, vc.wake_ns)
            elif vc.status == BLOCKED:
                stop = min(stop, vc.blocked_until)
        if sim.recorder is not None:
            stop = min(stop, sim.recorder.next_ns)
        return stop

    def advance(self, sim: Simulation, until_ns: int, boundary_done: bool = False) -> bool:
        """Run quiet steps from the clock on, and the step the loop stopped in (if any) in
        Python; False, having done nothing, where the next step is not quiet. With
        boundary_done, Python has made the current step's boundary (a frame, the scheduler's
        accounting, a wake-up): the loop starts at that step's pCPUs."""
        if self._ws is None:
            self._setup(sim)
        if not self.possible:
            return False
        T = sim.now_ns
        stop = self.stop_ns(sim, until_ns)
        if min(stop, sim.end_ns) - T < MIN_STEPS * sim.step_ns:
            return False
        # The boundary would remake the plan (and the scheduler pick for an idle pCPU).
        if sim._plan_version != sim.scheduler.version:
            return False
        if sim.scheduler.queue and min(sim.running) < 0:
            return False
        dev = sim.machine.device
        if any(dev.queues[c] for c in range(len(dev.queues)) if c != BACKGROUND_WRITE):
            return False
        for q in (dev.queues[BACKGROUND_WRITE], (x[2] for x in dev.in_flight)):
            for op in q:
                if op.cls not in WRITE_CLASSES or op.keep or op.failed or op.cancelled:
                    return False
        self.clock[st.C_BOUNDARY_DONE] = int(boundary_done)
        self._enter(sim, T, stop)
        return self._run(sim, T)

    def _enter(self, sim: Simulation, T: int, stop: int) -> None:
        """The run's state into the loop's arrays."""
        m, ws = sim.machine, self.ws
        pool, dev, policy = m.pool, m.device, sim.policy
        for vm in range(m.n_vms):  # as the boundary sets it (constant for a quiet policy)
            m.ra_cluster[vm] = policy.readahead_cluster(vm)
        self.clock[st.C_STOP_NS] = stop
        span_end = min(stop, sim.end_ns)
        parts_refs, parts_writes = [], []
        at = 0
        for p in range(sim.n_pcpus):
            v = sim.running[p]
            self.vcpu_of[p] = v
            self.slice_end[p] = sim.slice_end[p]
            self.pcpu_time[p] = sim.pcpu_time[p]
            if v < 0:
                continue
            vc = sim.vcpus[v]
            assert vc.status == RUNNING
            t0 = max(sim.pcpu_time[p], T)
            self.start_time[p] = t0
            # As many references as the span has time for (each costs at least cpu_ns), but
            # no more than twice the pace the vCPU kept last time (a vCPU that stalls on
            # faults makes far fewer): a window that runs out hands over to Python, which
            # goes on, and the next call takes a longer one.
            most = -(-(span_end - t0) // vc.cpu_ns)
            paced = int(2 * self.pace[v] * (span_end - t0)) + MIN_WINDOW
            n = int(max(0, min(most, paced, MAX_REFS, vc.refs_left())))
            rel, wr = vc.stream.take(vc.pos, n)
            parts_refs.append(rel)
            parts_writes.append(wr)
            lo = int(pool.base[vc.vm])
            self.stream[p] = (
                vc.vm, lo, lo + vc.vm_pages, vc.cpu_ns, vc.burst_left_ns,
                int(m.ra_cluster[vc.vm]), dev.lane_of(p), at, at + n,
            )  # fmt: skip
            at += n
        if len(parts_refs) == 1:  # the stream's own buffer, not a copy
            self.refs, self.writes = parts_refs[0], parts_writes[0]
        elif parts_refs:
            self.refs, self.writes = np.concatenate(parts_refs), np.concatenate(parts_writes)
        else:
            self.refs, self.writes = np.zeros(0, np.int64), np.zeros(0, np.bool_)
        self.first_pos = self.stream[:, 7].copy()
        # Pool and paging scalars, device figures, as run_window hands them to the kernel.
        scalars = ws.scalars
        paging_state_in(m, ws)
        self.deltas[:] = 0
        # The kept list, with room for the one the kernel may make.
        oldest = ws.oldest
        assert oldest is not None
        size = max(oldest.pages.size, ws.list_pages.size, m.high_wm + 1)
        if self.kept_pages.size < size:
            self.kept_pages = np.zeros(size, dtype=np.int64)
            self.kept_keys = np.zeros(size, dtype=np.int64)
        k = oldest.pages.size
        self.kept_pages[:k] = oldest.pages
        self.kept_keys[:k] = oldest.keys
        self.where[:] = 0
        self.where[st.Q_T] = T
        self.where[st.Q_KEPT_END] = k
        reclaim = ws.reclaim
        reclaim[sl.R_BEFORE_NS] = oldest.before_ns
        reclaim[sl.R_REQUEUED] = oldest.requeued
        reclaim[sl.R_WRITE_FAILURES] = pool.write_failures
        # The device's writes into the table: queued ones in their order, then those in flight
        # (in any order: the loop lands them by end and sequence number, as the heap does).
        queued = list(dev.queues[BACKGROUND_WRITE])
        group = queued + [x[2] for x in dev.in_flight]
        rows = len(group)
        n_pages = 0
        if rows:
            sizes = np.fromiter((op.pages.size for op in group), dtype=np.int64, count=rows)
            ends = np.cumsum(sizes)
            n_pages = int(ends[-1])
            if n_pages + self.room_pages > self.op_pages.size:
                self._make_table(rows, n_pages)
            self.op_pages[:n_pages] = np.concatenate([op.pages for op in group])
            self.ops[:rows] = [
                (op.vm, op.issue_ns, op.lane, op.start_ns, op.done_ns, op.seq, 0, 0) for op in group
            ]
            self.ops[:rows, sl.OP_LO] = ends - sizes
            self.ops[:rows, sl.OP_HI] = ends
            self.op_cls[:rows] = [op.cls for op in group]
            self.op_status[:rows] = st.IN_FLIGHT
            self.op_status[: len(queued)] = st.QUEUED
        dev.queues[BACKGROUND_WRITE].clear()
        dev.in_flight.clear()
        scalars[sl.S_N_OPS], scalars[sl.S_OP_PAGES] = rows, n_pages

    def _run(self, sim: Simulation, start_ns: int) -> bool:
        """The compiled call, its results back into the run, and the rest of the step it
        stopped in (if it stopped mid-step). False where it stopped before the first step's
        reclaim (having at most landed the writes that ended by then, as the step would)."""
        m, ws = sim.machine, self.ws
        pool, dev, c = m.pool, m.device, m.counters
        oldest = ws.oldest
        assert oldest is not None
        st.run_steps(
            self.clock, self.where, m.n_vms, self.slice_end, self.pcpu_time, self.vcpu_of,
            self.stream, self.refs, self.writes, pool.state, pool.last_use_ns, pool.load_ns,
            pool.ref_bit,
            pool.evicted_for_prefetch if pool.any_evicted_for_prefetch else NO_FLAGS,
            ws.scalars, self.deltas, ws.device, dev.busy_until, dev.boundary_busy,
            dev.spare_lanes, dev.demand_lanes_in_order, dev.pages_done, dev.ops_done, dev.busy_ns,
            m.mark, ws.reclaim, self.kept_pages, self.kept_keys, ws.list_pages, ws.list_keys,
            getattr(pool, oldest.key), pool.vm_of, c.prefetch_wasted, c.swap_full_refused_pages,
            c.swap_out_pages, ws.victims, self.ops, self.op_cls, self.op_status, self.op_pages,
            ws.fault_rows, ws.fault_config, c.prefetch_used,
        )  # fmt: skip
        paging_state_out(m, ws)
        for name, column in zip(sl.DELTA_COUNTERS, self.deltas.T, strict=True):
            getattr(c, name)[:] += column
        head, end = int(self.where[st.Q_KEPT_HEAD]), int(self.where[st.Q_KEPT_END])
        oldest.pages = self.kept_pages[head:end].copy()
        oldest.keys = self.kept_keys[head:end].copy()
        oldest.before_ns = int(ws.reclaim[sl.R_BEFORE_NS])
        oldest.requeued = int(ws.reclaim[sl.R_REQUEUED])
        self._ops_back(dev)
        for p in range(sim.n_pcpus):
            v = sim.running[p]
            sim.pcpu_time[p] = int(self.pcpu_time[p])
            if v >= 0:
                done = int(self.stream[p, 7] - self.first_pos[p])
                if done:
                    sim.vcpus[v].consume(done)
                ran_ns = int(self.pcpu_time[p] - self.start_time[p])
                if ran_ns > 0:
                    self.pace[v] = done / ran_ns
        T = int(self.where[st.Q_T])
        sim.now_ns = T
        p = int(self.where[st.Q_PCPU])
        if p < 0:  # stopped at a step's start: Python's step() runs it from its boundary
            return start_ns < T
        # Stopped mid-step at pCPU p: Python goes on from there, then the other pCPUs.
        T_end = min(T + sim.step_ns, sim.end_ns)
        resume = (int(self.where[st.Q_TIME]), int(self.where[st.Q_WHY]))
        sim._run_pcpu(p, T, T_end, resume=resume)
        for q in range(p + 1, sim.n_pcpus):
            sim._run_pcpu(q, T, T_end)
        sim.now_ns = T_end
        return True

    def _ops_back(self, device: SwapDevice) -> None:
        """The table's writes not yet landed become the device's operations again."""
        n = int(self.ws.scalars[sl.S_N_OPS])
        if n == 0:
            return
        rows = self.ops[:n].tolist()
        pages = self.op_pages[: int(self.ws.scalars[sl.S_OP_PAGES])].copy()
        flying = device.in_flight  # empty since _enter: a heap again once filled
        for row, cls, status in zip(
            rows, self.op_cls[:n].tolist(), self.op_status[:n].tolist(), strict=True
        ):
            if status == st.LANDED:
                continue
            vm, issue, lane, start, done, seq, lo, hi = row
            op = Op(cls, vm, pages[lo:hi], issue, start, done, lane, seq)
            if status == st.QUEUED:
                device.queues[cls].append(op)
            else:
                flying.append((done, seq, op))
        heapq.heapify(flying)
