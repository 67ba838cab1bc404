"""The oracle's prefetch reads on the device: when each can start and land, how many can start
within a step, and issuing them.

Prefetch reads go only to lanes no pCPU's demand reads use, at most `streams` of them in
service at once: enough that their transfers outweigh their latencies (the bandwidth mostly
used), no more (each one more in service slows every demand read in flight). The oracle asks
these questions of the device as it is at each step; the answers decide which of the pages it
wants can land before their use.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

import numpy as np

from engine.device import PREFETCH_READ

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

    def start_times(self, n_ops: int, now_ns: int, step_end_ns: int) -> np.ndarray:
        """When each of the next n prefetch reads (in issue order) would start, on the device
        as it is. At most `streams` of them are in service at once, one after another on each
        stream (a read alone already moves most of what the bandwidth allows; each one more
        in service slows every demand read in flight). Reads that could not start within this
        step start never (FAR): their pages are looked at again next step."""
        dev = self.machine.device
        busy = sorted(
            op.done_ns
            for _, _, op in dev.in_flight
            if op.cls == PREFETCH_READ and op.done_ns > now_ns
        )
        free = [now_ns] * max(0, self.streams - len(busy)) + busy[-self.streams :]
        free.sort()
        service = self.read_ns(now_ns)
        starts = np.full(n_ops, FAR, dtype=np.int64)
        for i in range(n_ops):
            t = free[0]
            if t >= step_end_ns:
                break
            starts[i] = t
            heapq.heapreplace(free, t + service)
        return starts

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

    def landing(self, n_pages: int, now_ns: int, step_end_ns: int) -> np.ndarray:
        """When each of the next n prefetched pages (in issue order, batch by batch) would
        land: its read's start, its service beside the others in service, and a step for the
        completion to be seen (FAR: its read cannot start within this step)."""
        op = np.arange(n_pages, dtype=np.int64) // self.batch
        starts = self.start_times(-(-n_pages // self.batch), now_ns, step_end_ns)
        land = starts[op] + self.read_ns(now_ns) + self.ctx.step_ns
        return np.where(starts[op] >= FAR, FAR, land)

    def startable_reads(self, now_ns: int, step_end_ns: int) -> int:
        """How many prefetch reads can start within this step (`start_times`' count)."""
        per_stream = -(-max(0, step_end_ns - now_ns) // self.read_ns(now_ns)) + 1
        return int(
            np.count_nonzero(self.start_times(self.streams * per_stream, now_ns, step_end_ns) < FAR)
        )

    def first_few(
        self, pages: np.ndarray, uses: np.ndarray, now_ns: int, step_end_ns: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Of the pages wanted (and their uses), those that can come first in issue order
        (by use, then page) among as many as the reads that can start within this step
        carry: every page past them lands never (`landing`), so it is not sorted. All of
        them that share the last use kept go along (the order among them is by page)."""
        n_reads = -(-pages.size // self.batch)
        startable = self.batch * int(
            np.count_nonzero(self.start_times(n_reads, now_ns, step_end_ns) < FAR)
        )
        if startable >= pages.size or int(uses.max()) >= FAR:  # a FAR use is never late
            return pages, uses
        if startable == 0:
            return pages[:0], uses[:0]
        last = np.partition(uses, startable - 1)[startable - 1]
        keep = uses <= last
        return pages[keep], uses[keep]

    def issue(self, pages: np.ndarray, uses: np.ndarray, now_ns: int, step_end_ns: int) -> None:
        """Read the pages in, one VM's pages per read, reads in order of their first use and
        each issued for when its stream is free (so no more than `streams` are in service)."""
        vms = self.machine.pool.vm_of[pages]
        ops: list[tuple[int, int, np.ndarray]] = []
        for vm in np.unique(vms).tolist():
            mine = np.flatnonzero(vms == vm)
            for lo in range(0, mine.size, self.batch):
                part = mine[lo : lo + self.batch]
                ops.append((int(uses[part].min()), vm, pages[part]))
        ops.sort(key=lambda o: o[0])
        starts = self.start_times(len(ops), now_ns, step_end_ns)
        for (_, vm, part), start in zip(ops, starts.tolist(), strict=True):
            if start < FAR:
                self.machine.prefetch(vm, part, start, batch=self.batch)
