"""The device model of `predictive`: how long a restore of n pages takes to land on the swap
device (latency, per-lane transfer, lanes, the queue ahead), and how many pages can land in a
given time. A mixin of PredictivePaging, which sets the attributes declared here."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from engine.device import PREFETCH_READ
from engine.hotpath import lead_time

if TYPE_CHECKING:
    from engine.machine import Machine
    from engine.policies.context import PolicyContext


class DeviceLeadTime:
    """Lead times of restore reads, from the device's figures and its current backlog."""

    ctx: PolicyContext
    machine: Machine
    prefetch_lanes: np.ndarray  # the lanes restore reads are served on
    shared_lanes: bool  # those lanes serve demand reads too
    batch: int  # pages per restore read operation
    margin_ns: int  # slack added to every lead time
    _backlog_key: tuple[int, ...]
    _backlog_val: tuple[int, int, int, int, int]

    # -- the device model: how long a restore of n pages takes ------------------------------------
    def lead_ns(self, n_pages: int, now_ns: int) -> int:
        """Time from issuing a restore of n pages until its last page lands: the work queued
        ahead of it (same or higher class) and its own, spread over the lanes prefetches use,
        each operation sharing the device's bandwidth with the others in service."""
        if n_pages <= 0:
            return 0
        return int(lead_time.restore_lead_ns(n_pages, *self._lead_args(now_ns)))

    def _lead_args(self, now_ns: int) -> tuple[int, ...]:
        """The backlog and device figures engine.hotpath.lead_time computes lead times from."""
        dev = self.machine.device
        step = self.ctx.step_ns if self.shared_lanes else 0
        return (
            *self._backlog(now_ns),
            dev.channels,
            dev.latency_ns,
            dev.page_transfer_ns,
            dev.read_op_ns,
            self.batch,
            int(self.prefetch_lanes.size),
            step,
            self.margin_ns,
        )

    def _lead_py(self, n_pages: int, now_ns: int) -> int:
        """lead_ns on Python integers, for the sizes a long deliverable search tries."""
        if n_pages <= 0:
            return 0
        dev = self.machine.device
        lanes = self.prefetch_lanes
        n_ops = -(-n_pages // self.batch)
        first_free, sharers_ahead, ahead = self._ahead(now_ns, n_ops)
        sharers = min(dev.channels, sharers_ahead + n_ops)
        service = dev.service_ns(min(n_pages, self.batch), sharers)
        if self.shared_lanes:  # a lane a pCPU reads from takes queued work only when idle
            step = self.ctx.step_ns
            service = -(-service // step) * step
        last = dev.service_ns(n_pages - (n_ops - 1) * self.batch, sharers)
        own = (n_ops - 1) * service + last
        # At least: the first lane to come free, then one operation; at most evenly spread.
        return max(first_free + service, (ahead + own) // lanes.size) + self.margin_ns

    def _ahead(self, now_ns: int, n_ops: int) -> tuple[int, int, int]:
        """(until the first prefetch lane is free, operations the device will be serving
        besides a new restore's, device time of the work ahead of it) for a restore of n_ops
        operations."""
        first, busy_sum, n_busy, n_queued, queued_pages = self._backlog(now_ns)
        sharers = min(self.machine.device.channels, n_busy + n_queued + n_ops)
        dev = self.machine.device
        queued = n_queued * dev.latency_ns + sharers * queued_pages * dev.page_transfer_ns
        return first, n_busy + n_queued, busy_sum + queued

    def _backlog(self, now_ns: int) -> tuple[int, int, int, int, int]:
        """(until the first prefetch lane is free, device time left in service on those lanes,
        operations in service on the device, operations and pages queued in the same or
        higher classes), recomputed only when time moved or the device's queues changed (an
        operation queued, started, finished or cancelled)."""
        dev = self.machine.device
        key = (now_ns, dev.seq, dev.queued_ops(), len(dev.in_flight), dev.cancellations)
        if key != self._backlog_key:
            busy = np.maximum(dev.busy_until[self.prefetch_lanes] - now_ns, 0)
            n_busy = int(np.count_nonzero(dev.busy_until > now_ns))
            n_queued = queued_pages = 0
            for cls in range(PREFETCH_READ + 1):
                for op in dev.queues[cls]:
                    if not op.cancelled:
                        n_queued += 1
                        queued_pages += int(op.pages.size)
            self._backlog_key = key
            self._backlog_val = (int(busy.min()), int(busy.sum()), n_busy, n_queued, queued_pages)
        return self._backlog_val

    def deliverable(self, within_ns: int, now_ns: int) -> int:
        """Pages a restore issued now can have landed within the given time: lead_ns
        inverted in closed form, then checked against it (compiled; a time too long for
        int64 arithmetic is searched on Python integers)."""
        if within_ns < lead_time.MAX_WITHIN_NS:
            return int(lead_time.deliverable_pages(within_ns, *self._lead_args(now_ns)))
        return self._deliverable_long(within_ns, now_ns)

    def _deliverable_long(self, within_ns: int, now_ns: int) -> int:
        """deliverable for a time of MAX_WITHIN_NS or more, on Python integers."""
        dev = self.machine.device
        budget = within_ns - self.margin_ns
        lanes = int(self.prefetch_lanes.size)
        first, sharers, ahead = self._ahead(now_ns, lanes)
        if self._lead_py(1, now_ns) > within_ns:
            return 0
        # Whole operations that fit when all the work is spread over the lanes, and at least
        # what one operation on the first free lane can carry.
        whole = max(0, budget * lanes - ahead) // dev.service_ns(self.batch, min(sharers, lanes))
        one = max(0, budget - first - dev.latency_ns) // dev.page_transfer_ns
        n = max(int(whole) * self.batch, min(int(one), self.batch), 1)
        while n > 1 and self._lead_py(n, now_ns) > within_ns:
            n -= max(1, n // 64)
        step = max(1, n // 64)
        while self._lead_py(n + step, now_ns) <= within_ns and n < lead_time.MAX_PAGES:
            n += step
        return n
