"""Frames for the web app: what the host looked like every `frame_ms` of simulated time.

Per-VM residency is binned to at most `columns` bins with a count per page state, stored as
keyframes plus sparse deltas, so any frame is rebuilt from at most `keyframe_every` deltas.
A run records at most MAX_FRAMES frames; longer runs record at a coarser period, so memory
stays bounded however long the simulated time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from engine.limits import MAX_RECORDED_FRAMES as MAX_FRAMES
from engine.metrics import COUNTERS
from engine.pool import N_STATES, STATE_NAMES
from engine.scheduler import Plan

if TYPE_CHECKING:
    from engine.device import SwapDevice
    from engine.metrics import Counters
    from engine.pool import PagePool
    from engine.scenario.schema import Scenario
    from engine.vcpu import VCpu


class RecordedSlice(Protocol):
    """One slice a pCPU ran (engine.simulator.Slice)."""

    pcpu: int
    vcpu: int
    start_ns: int
    end_ns: int


class RecordedRun(Protocol):
    """What a Recorder reads of the run it records (a Simulation)."""

    scenario: Scenario
    end_ns: int
    n_vms: int
    n_pcpus: int

    @property
    def vcpus(self) -> Sequence[VCpu]: ...

    @property
    def slices(self) -> Sequence[RecordedSlice]: ...

    @property
    def pool(self) -> PagePool: ...

    @property
    def counters(self) -> Counters: ...

    @property
    def device(self) -> SwapDevice: ...

    def plan(self) -> Plan: ...


@dataclass
class Recording:
    """Everything the views draw, indexed by frame."""

    frame_ns: int
    vm_names: list[str]
    vm_pages: np.ndarray
    columns: np.ndarray  # bins per VM
    n_pcpus: int
    vcpu_vm: np.ndarray
    state_names: tuple[str, ...] = STATE_NAMES
    counter_names: tuple[str, ...] = COUNTERS
    times_ns: list[int] = field(default_factory=list)
    keyframes: dict[int, np.ndarray] = field(default_factory=dict)
    deltas: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    keyframe_every: int = 32
    counters: list[np.ndarray] = field(default_factory=list)  # (n_counters, n_vms) each
    device_pages: list[np.ndarray] = field(default_factory=list)  # cumulative per class
    device_busy_ns: list[np.ndarray] = field(default_factory=list)
    queue_depth: list[int] = field(default_factory=list)
    free_frames: list[int] = field(default_factory=list)
    plans: list[Plan] = field(default_factory=list)
    prefetch_landed: list[np.ndarray] = field(default_factory=list)  # pages per VM, cumulative
    slice_pcpu: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    slice_vcpu: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    slice_start_ns: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    slice_end_ns: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    frames_total: int = 0

    @property
    def n_frames(self) -> int:
        return len(self.times_ns)

    def residency(self, i: int) -> np.ndarray:
        """(n_vms, max columns, n_states) page counts at frame i."""
        if not 0 <= i < self.n_frames:
            raise IndexError(f"frame {i} is outside 0..{self.n_frames - 1}")
        k = i - i % self.keyframe_every
        out = self.keyframes[k].copy()
        flat = out.reshape(-1)
        for j in range(k + 1, i + 1):
            idx, val = self.deltas[j]
            flat[idx] = val
        return out

    def counter(self, name: str) -> np.ndarray:
        """(n_frames, n_vms) cumulative values of one counter."""
        row = self.counter_names.index(name)
        return np.stack([c[row] for c in self.counters])

    def slices_between(self, t0: int, t1: int) -> np.ndarray:
        """Indices of actual slices overlapping [t0, t1)."""
        return np.flatnonzero((self.slice_start_ns < t1) & (self.slice_end_ns > t0))


class Recorder:
    """Takes frames from a running Simulation."""

    def __init__(self, sim: RecordedRun):
        self.sim = sim
        cfg = sim.scenario.recording
        frame_ns = int(cfg.frame_ms * 1e6)
        frame_ns = max(frame_ns, -(-sim.end_ns // MAX_FRAMES))
        pool = sim.pool
        cols = np.minimum(cfg.columns, pool.vm_pages).astype(np.int64)
        self.recording = Recording(
            frame_ns=frame_ns,
            vm_names=[vm.name for vm in sim.scenario.vms],
            vm_pages=pool.vm_pages.copy(),
            columns=cols,
            n_pcpus=sim.n_pcpus,
            vcpu_vm=np.array([v.vm for v in sim.vcpus], dtype=np.int64),
            keyframe_every=cfg.keyframe_every,
        )
        self.max_cols = int(cols.max()) if cols.size else 1
        # Bin of every page, combined with its state into one small integer at frame time.
        bins = []
        for k in range(sim.n_vms):
            n = int(pool.vm_pages[k])
            bins.append((np.arange(n, dtype=np.int64) * int(cols[k]) // n).astype(np.int32))
        self.bins = np.concatenate(bins) * N_STATES if bins else np.zeros(0, dtype=np.int32)
        self.next_ns = 0
        self.prev: np.ndarray | None = None
        self.landed = np.zeros(sim.n_vms, dtype=np.int64)

    def note_prefetch_landed(self, vm: int, pages: int) -> None:
        self.landed[vm] += pages

    def maybe_record(self, t: int) -> None:
        if t >= self.next_ns:
            self.record(t)
            self.next_ns = (t // self.recording.frame_ns + 1) * self.recording.frame_ns

    def _residency(self) -> np.ndarray:
        sim, pool = self.sim, self.sim.pool
        out = np.zeros((sim.n_vms, self.max_cols, N_STATES), dtype=np.uint32)
        for k in range(sim.n_vms):
            lo, hi = pool.vm_range(k)
            key = self.bins[lo:hi] + pool.state[lo:hi]
            counts = np.bincount(key, minlength=int(self.recording.columns[k]) * N_STATES)
            out[k, : self.recording.columns[k]] = counts.reshape(-1, N_STATES)
        return out

    def record(self, t: int) -> None:
        rec, sim = self.recording, self.sim
        i = rec.n_frames
        res = self._residency()
        if i % rec.keyframe_every == 0 or self.prev is None:
            rec.keyframes[i] = res
        else:
            flat, prev = res.reshape(-1), self.prev.reshape(-1)
            idx = np.flatnonzero(flat != prev).astype(np.int32)
            rec.deltas[i] = (idx, flat[idx].copy())
        self.prev = res
        rec.times_ns.append(int(t))
        rec.counters.append(sim.counters.snapshot())
        rec.device_pages.append(sim.device.pages_done.copy())
        rec.device_busy_ns.append(sim.device.busy_ns.copy())
        rec.queue_depth.append(sim.device.queue_depth(t))
        rec.free_frames.append(int(sim.pool.free_frames))
        rec.plans.append(sim.plan())
        rec.prefetch_landed.append(self.landed.copy())

    def finish(self, t: int) -> None:
        rec = self.recording
        if not rec.times_ns or rec.times_ns[-1] < t:
            self.record(t)
        s = self.sim.slices
        rec.slice_pcpu = np.array([x.pcpu for x in s], dtype=np.int64)
        rec.slice_vcpu = np.array([x.vcpu for x in s], dtype=np.int64)
        rec.slice_start_ns = np.array([x.start_ns for x in s], dtype=np.int64)
        rec.slice_end_ns = np.array([x.end_ns for x in s], dtype=np.int64)
        rec.frames_total = rec.n_frames
