"""The host's memory side: page pool, swap device, counters, clock, watermarks, fault model.

A Machine knows nothing of the scheduler or the vCPUs' order of play. The executors run
references against it and the policies read it; everything that moves a page goes through
its paging services (`engine.paging`), so the invariants (no page lost, counters exact) are
kept in one place. `Simulation` composes a Machine with the scheduler, vCPUs and a policy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from engine.device import BACKGROUND_WRITE, CLASS_NAMES, Op, SwapDevice
from engine.faults import FaultModel
from engine.metrics import Counters
from engine.paging import MachinePolicy, PagingServices
from engine.pool import PagePool
from engine.presets import limits_of

if TYPE_CHECKING:
    from engine.recording import Recorder
    from engine.scenario.schema import Scenario


class Machine(PagingServices):
    """Frames, swap and the device of one host, with the services that move pages.

    Built from a scenario; `policy` is attached by the Simulation once the policy exists
    (the policy is built with a context that holds this machine), `recorder` when the run
    is recorded."""

    policy: MachinePolicy

    def __init__(self, scenario: Scenario, *, unlimited_memory: bool = False) -> None:
        s = scenario
        self.host = s.host
        self.unlimited = unlimited_memory
        self.n_vms = len(s.vms)
        self.minor_ns = round(s.host.minor_fault_us * 1000)  # CPU cost of a first touch
        self.yield_on_fault = s.host.fault_mode == "yield"
        vm_pages = [s.vm_pages(vm) for vm in s.vms]
        frames = int(sum(vm_pages)) if unlimited_memory else s.host_frames
        swap_pages = (s.host.swap_mib * 1024 * 1024) // s.page_bytes
        self.pool = PagePool(vm_pages, frames, swap_pages)
        self.low_wm = int(frames * s.host.low_watermark_pct / 100)
        self.high_wm = max(self.low_wm, int(frames * s.host.high_watermark_pct / 100))
        self.write_batch_pages = int(s.host.write_batch_pages)
        f = s.faults
        self.faults = FaultModel(
            s.seed,
            f.read_error_rate,
            f.write_error_rate,
            f.latency_spike_rate,
            f.latency_spike_us,
            f.plan_error_rate,
        )
        self.counters = Counters(self.n_vms)
        latency_us, bandwidth, channels = s.device.resolved()
        self.device = SwapDevice(
            latency_us,
            bandwidth,
            channels,
            s.page_bytes,
            s.host.pcpus,
            self.faults,
            limits_of(s.device.preset, bandwidth),
            self.counters,
        )
        # A work array of the compiled executor (one flag per page), cleared after every use.
        self.mark = np.zeros(self.pool.n_pages, dtype=bool)
        self.writing_pending = 0
        # The prefetch reads in flight or queued, by seq, and which one each page awaits (a
        # fault on a page being read waits for its read).
        self.reading_seq = np.full(self.pool.n_pages, -1, dtype=np.int64)
        self.reading_ops: dict[int, Op] = {}
        self.ra_cluster = np.ones(self.n_vms, dtype=np.int64)
        self.now_ns = 0  # the clock: the start of the current step
        self.recorder: Recorder | None = None

    def background_reclaim(self, now_ns: int) -> None:
        """Below the low watermark, reclaim up to the high one (counting writes under way)."""
        short = self.high_wm - self.pool.free_frames - self.writing_pending
        if self.pool.free_frames < self.low_wm and short > 0:
            self.reclaim(short, now_ns, BACKGROUND_WRITE)

    def count_gated_dispatch(self, vm: int, waited_ns: int, *, dispatched: bool = True) -> None:
        """A vCPU of vm was dispatched after the policy held it back for waited_ns (or, not
        dispatched, was still held when the run ended)."""
        self.counters.gating_delay_ns[vm] += waited_ns
        self.counters.gated_dispatches[vm] += int(dispatched)

    def device_summary(self, end_ns: int) -> dict[str, Any]:
        """The device's figures over a run that ended at end_ns."""
        d = self.device
        span = max(1, end_ns) * d.channels
        return {
            "device_utilisation": round(float(d.busy_ns.sum()) / span, 6),
            "device_read_retries": int(d.read_retries),
            "device_write_failures": int(d.write_failures),
            "device_latency_spikes": int(d.spikes),
            **{f"device_{n}_pages": int(d.pages_done[i]) for i, n in enumerate(CLASS_NAMES)},
        }
