"""A step's pCPUs in one compiled call (engine.hotpath.step_pcpus) after a boundary that
needed Python (a policy with a step hook, such as the oracle): each pCPU otherwise costs a
trip through `_run_pcpu`, `run_fast` and `run_window` and a kernel call of its own.

Same results as `Simulation._run_pcpu` of each pCPU in turn: the kernel runs each pCPU's first
window of the step, the one run_window would hand it, in pCPU order; where a pCPU needs Python
its window is booked and `_run_pcpu` goes on from where the kernel stopped (as after a run of
quiet steps), then the call goes on with the next pCPU. Nothing a later pCPU's window depends
on (its vCPU, clock, burst and stream) changes meanwhile; what may (the pool, the flags of
pages evicted for prefetches, the readahead cluster) is read at each call.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.executor import run_fast
from engine.hotpath import step_pcpus as sp
from engine.hotpath.window import (
    MAX_WINDOW,
    NO_FLAGS,
    NO_RECLAIM,
    Workspace,
    paging_state_in,
    paging_state_out,
    window_refs,
    workspace,
)
from engine.quiet_steps import Simulation  # what the step loop reads and sets of a run


def may_compile_pcpus(sim: Simulation) -> bool:
    """Whether the run's fixed settings let a step's pCPUs run in one call: the compiled
    executor with memory limited, and a kernel that never reclaims (the policy picks its
    victims in Python, and no page leaves the pool while a call runs)."""
    if sim.run_vcpu is not run_fast or sim.unlimited:
        return False
    return workspace(sim.machine).oldest is None


class CompiledPcpus:
    """One simulation's buffers for running a step's pCPUs in one compiled call."""

    def __init__(self, sim: Simulation):
        m = sim.machine
        self.ws: Workspace = workspace(m)
        n_p = sim.n_pcpus
        self.table = np.zeros((n_p, sp.N_WINDOW_COLUMNS), dtype=np.int64)
        self.outcome = np.zeros((n_p, sp.N_OUTCOME_COLUMNS), dtype=np.int64)
        self.lanes = [m.device.lane_of(p) for p in range(n_p)]
        # The vCPU whose fixed columns (VM, pages, cpu_ns, lane, fault read) each row holds.
        self.row_vcpu = [-1] * n_p
        # Each pCPU's part of the pages touched and major-faulted, for the policy's after_run.
        size = sp.CHUNK * MAX_WINDOW if self.ws.collect else 0
        self.touched = np.zeros(size, dtype=np.int64)
        self.majors = np.zeros(size, dtype=np.int64)

    def _windows(
        self, sim: Simulation, T: int, T_end: int, p_from: int, p_to: int
    ) -> list[np.ndarray]:
        """Rows p_from to p_to of the table: the window run_fast's first run_window would
        take (READY 0 where run_fast would not run one, or no vCPU runs); each row's
        references ahead, then their write flags, as step_pcpus.run_pcpus takes them. Drawn
        at each call, not once a step: Python's work on one pCPU may draw on another's stream
        (the oracle reads ahead), which may move its buffer's contents."""
        ws, table = self.ws, self.table
        refs, writes = [NO_REFS] * sp.CHUNK, [NO_WRITES] * sp.CHUNK
        # With after_run, a VM's pages run on one pCPU of a call only: its after_run, made
        # once the call returns, reads the pool's figures of its pages as its run left them.
        vms_ready: list[int] = []
        for k, p in enumerate(range(p_from, p_to)):
            row = table[p]
            v = sim.running[p]
            if v < 0:
                row[sp.W_READY] = 0
                continue
            vc = sim.vcpus[v]
            t = max(sim.pcpu_time[p], T)
            slice_end = sim.slice_end[p]
            t_end = min(T_end, slice_end)
            left = vc.refs_left()
            vm = vc.vm
            if t >= t_end or left <= 0 or vc.burst_left_ns <= 0 or vm in vms_ready:
                row[sp.W_READY] = 0
                continue
            if ws.collect:
                vms_ready.append(vm)
            w = window_refs(vc, t, t_end)
            scan_refs, scan_pages = ws.stream_reads[vm]
            refs[k], writes[k] = vc.stream.take(vc.pos, w + scan_refs)
            if self.row_vcpu[p] != v:
                self.row_vcpu[p] = v
                lo = ws.vm_lo[vm]
                row[: sp.W_BURST_NS] = (vm, lo, lo + vc.vm_pages, vc.cpu_ns)
                row[sp.W_LANE] = self.lanes[p]
                row[sp.W_SCAN_REFS], row[sp.W_SCAN_PAGES] = scan_refs, scan_pages
                row[sp.W_PYTHON_ON_MAJOR] = ws.python_on_major and scan_refs == 0
            row[sp.W_BURST_NS], row[sp.W_START_NS], row[sp.W_WINDOW] = vc.burst_left_ns, t, w
            row[sp.W_SLICE_END_NS], row[sp.W_READY] = slice_end, 1
        return refs + writes

    def run(self, sim: Simulation, T: int, T_end: int) -> None:
        """Every pCPU through the step [T, T_end), as `_run_pcpu` of each in turn."""
        m, ws = sim.machine, self.ws
        pool, dev = m.pool, m.device
        table, outcome = self.table, self.outcome
        counters = ws.delta_counters
        n_p = sim.n_pcpus
        # (numba's Dispatcher is typed with a fixed number of arguments, fewer than these)
        kernel: Callable[..., int] = sp.run_pcpus
        p = 0
        while p < n_p:
            p_to = min(p + sp.CHUNK, n_p)
            streams = self._windows(sim, T, T_end, p, p_to)
            paging_state_in(m, ws)
            stop = kernel(
                p, p_to, T_end, m.minor_ns, table, outcome, *streams, m.ra_cluster, pool.state,
                pool.last_use_ns, pool.load_ns, pool.ref_bit,
                pool.evicted_for_prefetch if pool.any_evicted_for_prefetch else NO_FLAGS,
                ws.scalars, ws.delta, *counters, ws.device, dev.busy_until, dev.boundary_busy,
                ws.collect, m.mark, self.touched, self.majors, ws.counts, *NO_RECLAIM,
                ws.fault_rows, ws.fault_config,
            )  # fmt: skip
            paging_state_out(m, ws)
            booked = stop + 1 if stop < p_to and table[stop, sp.W_READY] else stop
            for q, (n, t, _, n_touched, n_major) in enumerate(outcome[p:booked].tolist(), start=p):
                if n:
                    sim.vcpus[sim.running[q]].consume(n)
                if q < stop:
                    sim.pcpu_time[q] = t
                if n_touched:  # copies, as run_window hands them (the buffers are reused)
                    at = (q - p) * MAX_WINDOW
                    vm = int(table[q, sp.W_VM])
                    touched = self.touched[at : at + n_touched].copy()
                    sim.policy.after_run(vm, touched, self.majors[at : at + n_major].copy())
            if stop == p_to:
                p = p_to
                continue
            if booked > stop:
                resume = (int(outcome[stop, sp.O_TIME_NS]), int(outcome[stop, sp.O_WHY]))
                sim._run_pcpu(stop, T, T_end, resume=resume)
            else:
                sim._run_pcpu(stop, T, T_end)
            p = stop + 1


NO_REFS = np.zeros(0, dtype=np.int64)
NO_WRITES = np.zeros(0, dtype=np.bool_)
