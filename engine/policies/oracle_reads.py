"""The oracle's prefetch reads on the device: when each can start and land, how many can start
within a step, and issuing them.

Prefetch reads go only to lanes no pCPU's demand reads use, at most `streams` of them in
service at once: enough that their transfers outweigh their latencies (the bandwidth mostly
used), no more (each one more in service slows every demand read in flight). The oracle asks
these questions of the device as it is at each step (one snapshot, answered by compiled code);
the answers decide which of the pages it wants can land before their use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from engine.device import PREFETCH_READ
from engine.hotpath.prefetch_plan import read_ops
from engine.hotpath.read_starts import count_startable, start_times

if TYPE_CHECKING:
    from engine.policies.context import PolicyContext

# The oracle's key of a page never used again (its stream ends first), and here the start of
# a read that cannot start within the step: one constant, as the two are compared.
FAR = 1 << 61


class PrefetchReads:
    """The device seen by the oracle's prefetch: `batch` pages per read, on the spare lanes."""

    def __init__(self, ctx: PolicyContext, batch_pages: int):
        self.ctx = ctx
        self.machine = ctx.machine
        self.batch = batch_pages
        dev = self.machine.device
        spare = [lane for lane in dev.background_lanes if lane not in dev.demand_lanes]
        self.spare_lanes = np.asarray(spare, dtype=np.int64)
        transfer = self.batch * dev.page_transfer_ns
        self.streams = max(1, min(len(spare), -(-dev.latency_ns // transfer)))

    def snapshot(self, now_ns: int) -> tuple[np.ndarray, int]:
        """(when each stream is next free, one read's service time) on the device as it is:
        what the compiled start times (engine.hotpath.read_starts) need. At most `streams`
        prefetch reads are in service at once, one after another on each stream (a read alone
        already moves most of what the bandwidth allows; each one more in service slows
        every demand read in flight)."""
        dev = self.machine.device
        busy = sorted(
            op.done_ns
            for _, _, op in dev.in_flight
            if op.cls == PREFETCH_READ and op.done_ns > now_ns
        )
        free = [now_ns] * max(0, self.streams - len(busy)) + busy[-self.streams :]
        return np.array(free, dtype=np.int64), self.read_ns(now_ns)

    def start_times(self, n_ops: int, now_ns: int, step_end_ns: int) -> np.ndarray:
        """When each of the next n prefetch reads (in issue order) would start, on the device
        as it is. Reads that could not start within this step start never (FAR): their pages
        are looked at again next step."""
        free_ns, service_ns = self.snapshot(now_ns)
        return start_times(free_ns, service_ns, n_ops, step_end_ns, FAR)

    def read_ns(self, now_ns: int) -> int:
        """Service time of one prefetch read beside the other streams and every other
        operation in service now or queued to start now (writes to free frames start first):
        the device's bandwidth is shared by all of them."""
        dev = self.machine.device
        reading = sum(
            1
            for _, _, op in dev.in_flight
            if op.cls == PREFETCH_READ and op.start_ns <= now_ns < op.done_ns
        )
        queued = sum(
            1 for q in dev.queues for op in q if op.cls != PREFETCH_READ and not op.cancelled
        )
        others = int(np.count_nonzero(dev.busy_until > now_ns)) - reading + queued
        return dev.service_ns(self.batch, min(dev.channels, others + self.streams))

    def startable_reads(
        self, free_ns: np.ndarray, read_ns: int, now_ns: int, step_end_ns: int
    ) -> int:
        """How many prefetch reads can start within this step, streams free at free_ns and
        each read taking read_ns (`snapshot`'s)."""
        per_stream = -(-max(0, step_end_ns - now_ns) // read_ns) + 1
        return count_startable(free_ns, read_ns, self.streams * per_stream, step_end_ns, FAR)

    def issue(self, pages: np.ndarray, uses: np.ndarray, now_ns: int, step_end_ns: int) -> None:
        """Read the pages in, one VM's pages per read, reads in order of their first use and
        each issued for when its stream is free (so no more than `streams` are in service)."""
        if pages.size == 0:
            return
        vms, parts, off = read_ops(pages, uses, self.machine.pool.vm_of, self.batch)
        starts = self.start_times(vms.size, now_ns, step_end_ns)
        for i, start in enumerate(starts.tolist()):
            if start < FAR:
                part = parts[off[i] : off[i + 1]]
                self.machine.prefetch(int(vms[i]), part, start, batch=self.batch)
