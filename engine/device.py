"""The swap device: parallel channels ("lanes"), per-op latency, shared bandwidth, priorities.

Each lane serves one operation at a time, so the device never exceeds its channels. An
operation's service time is its latency plus its bytes at the bandwidth the device gives it:
an operation alone gets the whole bandwidth, and one that starts while others are in service
shares it with them, k ways with k operations in service (counting itself), for the whole of its
service. The device's IOPS limit works the same way: k operations in service take at least
k / IOPS each. So a lone 4 KiB read takes its QD1 time, k concurrent reads complete at
min(k / (latency + k × transfer), IOPS), and large operations move at the full bandwidth.

A stalled vCPU's demand read goes on its pCPU's lane at once (highest priority). The other
operations it shares the device with are those in service at the last step boundary (step_us
is the resolution of every cross-CPU interaction, and both executors see the same thing).
Lower classes wait in queues and are dispatched at step boundaries in time order onto lanes no
pCPU reads from first: a demand read waits at most for the one operation already on its lane
(non-preemptive, as real queues are).
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from engine.faults import FaultModel
from engine.hotpath.device_time import dispatch_queued
from engine.hotpath.slots import (
    N_DEVICE,
    V_LATENCY_NS,
    V_OP_NS,
    V_PAGE_NS,
    V_WRITE_OP_NS,
    V_WRITE_PAGE_NS,
)
from engine.presets import DeviceLimits

if TYPE_CHECKING:
    from engine.metrics import Counters

# Priority classes, highest first (DESIGN.md §2).
DEMAND_READ = 0
WRITE_TO_FREE = 1
PREFETCH_READ = 2
BACKGROUND_WRITE = 3
CLASS_NAMES = ("demand_read", "write_to_free", "prefetch_read", "background_write")
N_CLASSES = len(CLASS_NAMES)
WRITE_CLASSES = (WRITE_TO_FREE, BACKGROUND_WRITE)
DISPATCH_BATCH = 64  # queued operations handed to the compiled dispatch at once
NEVER_NS = np.iinfo(np.int64).max


@dataclass(eq=False, slots=True)
class Op:
    """One device operation over a group of pages of one VM. Thousands are made in a run
    (every write of evicted pages is one), so it has slots and no per-op dict."""

    cls: int
    vm: int
    pages: np.ndarray  # global page ids
    issue_ns: int
    start_ns: int = -1
    done_ns: int = -1
    lane: int = -1
    seq: int = 0
    cancelled: bool = False
    failed: bool = False
    keep: bool = False  # a write-back: its pages stay resident (clean once it succeeds)


class SwapDevice:
    """Lanes with busy-until times, queues per class, and the operations in flight."""

    def __init__(
        self,
        latency_us: float,
        bandwidth_mbps: float,
        channels: int,
        page_bytes: int,
        pcpus: int,
        faults: FaultModel | None = None,
        limits: DeviceLimits | None = None,
        counters: Counters | None = None,
    ):
        self.faults = faults or FaultModel(0)
        self.counters = counters  # where each fault is booked to its VM, if given
        self.demand_ops = 0  # demand reads so far: the number each one's faults are drawn by
        self.read_retries = 0
        self.spikes = 0
        self.write_failures = 0
        self.latency_ns = round(latency_us * 1000)
        self.channels = int(channels)
        limits = limits or DeviceLimits()
        # Per page at the whole bandwidth, and per operation at the IOPS limit (0: none).
        self.page_transfer_ns = max(1, round(page_bytes / (bandwidth_mbps * 1e-3)))
        write_mbps = limits.write_mbps or bandwidth_mbps
        self.write_page_ns = max(1, round(page_bytes / (write_mbps * 1e-3)))
        self.read_op_ns = round(1e9 / limits.read_iops) if limits.read_iops else 0
        self.write_op_ns = round(1e9 / limits.write_iops) if limits.write_iops else 0
        self.busy_until = np.zeros(self.channels, dtype=np.int64)
        # Lanes' busy-until times as the last step boundary left them: what demand reads share.
        self.boundary_busy = np.zeros(self.channels, dtype=np.int64)
        self.pcpus = pcpus
        demand = sorted({p % self.channels for p in range(pcpus)})
        spare = [lane for lane in range(self.channels) if lane not in demand]
        # Background work prefers lanes no pCPU reads from; shared lanes come last.
        self.background_lanes = spare + demand
        self.demand_lanes = set(demand)
        self.spare_lanes = np.asarray(spare, dtype=np.int64)
        self.demand_order = demand  # as they come in background_lanes
        self.demand_lanes_in_order = np.asarray(demand, dtype=np.int64)
        # Whether dispatch may start operations in its compiled twin (same results); off, each
        # goes through _start, where a test can watch it.
        self.compiled_dispatch = True
        # The compiled dispatch's settings (slots of engine.hotpath.slots, V_*).
        self._settings = np.zeros(N_DEVICE, dtype=np.int64)
        self._settings[V_LATENCY_NS] = self.latency_ns
        self._settings[V_PAGE_NS] = self.page_transfer_ns
        self._settings[V_OP_NS] = self.read_op_ns
        self._settings[V_WRITE_PAGE_NS] = self.write_page_ns
        self._settings[V_WRITE_OP_NS] = self.write_op_ns
        self.queues: list[deque[Op]] = [deque() for _ in range(N_CLASSES)]
        self.in_flight: list[tuple[int, int, Op]] = []  # heap of (done_ns, seq, op)
        self.seq = 0
        self.cancellations = 0  # queued operations cancelled (they stay queued, marked)
        # Statistics, cumulative: pages and busy time per class.
        self.pages_done = np.zeros(N_CLASSES, dtype=np.int64)
        self.busy_ns = np.zeros(N_CLASSES, dtype=np.int64)
        self.ops_done = np.zeros(N_CLASSES, dtype=np.int64)

    def service_ns(self, n_pages: int, sharers: int = 1, write: bool = False) -> int:
        """Time one lane is busy with an operation of n pages that shares the device with
        sharers - 1 others: latency + its bytes at bandwidth / sharers, and at least
        sharers / IOPS."""
        page_ns, op_ns = (
            (self.write_page_ns, self.write_op_ns)
            if write
            else (self.page_transfer_ns, self.read_op_ns)
        )
        return max(self.latency_ns + sharers * n_pages * page_ns, sharers * op_ns)

    def read_service_ns(self, n_pages: np.ndarray, sharers: int) -> np.ndarray:
        """service_ns of reads of n_pages[i] pages each, all with the same sharers."""
        n = np.asarray(n_pages, dtype=np.int64)
        return np.maximum(
            self.latency_ns + sharers * n * self.page_transfer_ns, sharers * self.read_op_ns
        )

    def sharers_at(self, lane: int, start_ns: int) -> int:
        """Operations in service at start_ns on other lanes, plus one for the one starting."""
        busy = self.busy_until
        others = int(np.count_nonzero(busy > start_ns)) - int(busy[lane] > start_ns)
        return 1 + others

    def demand_sharers(self, pcpu: int, start_ns: int) -> tuple[int, int]:
        """(sharers of a demand read starting at start_ns on the pCPU's lane, the first time
        after it at which that number changes), from the last boundary's lanes."""
        lane = pcpu % self.channels
        in_service = self.boundary_busy > start_ns
        in_service[lane] = False
        others = self.boundary_busy[in_service]
        change = int(others.min()) if others.size else NEVER_NS
        return 1 + int(others.size), change

    def lane_of(self, pcpu: int) -> int:
        return pcpu % self.channels

    # -- demand reads: synchronous for the faulting vCPU ---------------------------------------
    def demand_extra_ns(self, n_pages: np.ndarray, sharers: int = 1) -> np.ndarray:
        """Time beyond one clean service for the next len(n_pages) demand reads: retries of
        failed reads (each a whole service again) and latency spikes."""
        if not self.faults.device_faults:
            return np.zeros(len(n_pages), dtype=np.int64)
        counters = np.arange(self.demand_ops, self.demand_ops + len(n_pages), dtype=np.uint64)
        tries = self.faults.read_attempts(counters)
        service = self.read_service_ns(n_pages, sharers)
        return (tries - 1) * service + self.faults.spikes(counters)

    def note_demand_reads(self, extra_ns: np.ndarray, n_pages: np.ndarray, vm: int = -1) -> None:
        """Count demand reads served for a VM (their faults were drawn by demand_extra_ns)."""
        k = len(extra_ns)
        if k and self.faults.device_faults:
            counters = np.arange(self.demand_ops, self.demand_ops + k, dtype=np.uint64)
            retries = int((self.faults.read_attempts(counters) - 1).sum())
            spikes = int(np.count_nonzero(self.faults.spikes(counters)))
            self.read_retries += retries
            self.spikes += spikes
            self._book("read_retries", vm, retries)
            self._book("latency_spikes", vm, spikes)
        self.demand_ops += k

    def _book(self, counter: str, vm: int, n: int) -> None:
        """Add n to a VM's fault counter: per VM here, the host totals in the attributes."""
        if n and vm >= 0 and self.counters is not None:
            getattr(self.counters, counter)[vm] += n

    def demand_read(self, pcpu: int, now_ns: int, n_pages: int, vm: int = -1) -> int:
        """Serve a demand read of n pages on the pCPU's lane; returns its completion time.
        engine.hotpath.kernels.demand_read_ns is its compiled twin (without injected faults):
        a change here is a change there."""
        lane = pcpu % self.channels
        start = max(now_ns, int(self.busy_until[lane]))
        sharers, _ = self.demand_sharers(pcpu, start)
        pages = np.array([n_pages])
        extra = self.demand_extra_ns(pages, sharers)
        self.note_demand_reads(extra, pages, vm)
        service = self.service_ns(n_pages, sharers) + int(extra[0])
        done = start + service
        self.busy_until[lane] = done
        self.pages_done[DEMAND_READ] += n_pages
        self.busy_ns[DEMAND_READ] += service
        self.ops_done[DEMAND_READ] += 1
        return done

    # -- queued classes ------------------------------------------------------------------------
    def submit(self, op: Op) -> None:
        op.seq = self.seq
        self.seq += 1
        self.queues[op.cls].append(op)

    def start_now(self, op: Op, now_ns: int) -> int:
        """Start an operation at once on the lane free earliest (direct reclaim cannot wait)."""
        op.seq = self.seq
        self.seq += 1
        lane = int(np.argmin(self.busy_until))
        self._start(op, lane, max(now_ns, int(self.busy_until[lane])))
        return op.done_ns

    def _start(self, op: Op, lane: int, start_ns: int) -> None:
        write = op.cls in (WRITE_TO_FREE, BACKGROUND_WRITE)
        service = self.service_ns(op.pages.size, self.sharers_at(lane, start_ns), write)
        if self.faults.device_faults:
            counter = np.array([op.seq], dtype=np.uint64)
            spike = int(self.faults.spikes(counter + np.uint64(1 << 32))[0])
            service += spike
            self.spikes += spike > 0
            self._book("latency_spikes", op.vm, int(spike > 0))
            if op.cls in (WRITE_TO_FREE, BACKGROUND_WRITE) and self.faults.write_fails(op.seq):
                op.failed = True
                self.write_failures += 1
                self._book("write_failed_pages", op.vm, int(op.pages.size))
            elif op.cls == PREFETCH_READ and self.faults.read_attempts(counter)[0] > 1:
                op.failed = True  # the pages stay on swap: a demand fault retries them
                self.read_retries += 1
                self._book("read_retries", op.vm, 1)
        op.lane, op.start_ns, op.done_ns = lane, start_ns, start_ns + service
        self.busy_until[lane] = op.done_ns
        self.busy_ns[op.cls] += service
        heapq.heappush(self.in_flight, (op.done_ns, op.seq, op))

    def dispatch(self, now_ns: int, step_end_ns: int) -> None:
        """Start queued operations, highest class first: lanes no pCPU reads from are filled
        back to back through the step, the one free earliest first (so each operation shares
        the device with those really in service when it starts); then a pCPU's lane takes one
        only while it is idle. Ends by noting the lanes' state for the step's demand reads.

        Without injected faults the lanes are chosen and timed by a compiled twin
        (engine.hotpath.device_time.dispatch_queued), a batch of operations per call."""
        if self.compiled_dispatch and not self.faults.device_faults:
            if any(self.queues):
                self._dispatch_compiled(now_ns, step_end_ns)
            self.boundary_busy = self.busy_until.copy()
            return
        spare: list[tuple[int, int, int]] = []
        if any(self.queues):  # nothing queued: no lane takes anything
            # Spare lanes come first in background_lanes, so a lane's rank is its index here.
            busy = self.busy_until[self.spare_lanes]
            open_rank = np.flatnonzero(busy < step_end_ns)
            spare = list(
                zip(
                    np.maximum(busy[open_rank], now_ns).tolist(),
                    open_rank.tolist(),
                    self.spare_lanes[open_rank].tolist(),
                    strict=True,
                )
            )
            heapq.heapify(spare)
        while spare:
            free_ns, rank, lane = spare[0]
            op = self._next_queued()
            if op is None:
                break
            self._start(op, lane, max(free_ns, op.issue_ns))
            if self.busy_until[lane] < step_end_ns:
                heapq.heapreplace(spare, (int(self.busy_until[lane]), rank, lane))
            else:
                heapq.heappop(spare)
        for lane in self.demand_order if any(self.queues) else ():
            if self.busy_until[lane] <= now_ns:
                op = self._next_queued()
                if op is None:
                    break
                self._start(op, lane, max(now_ns, op.issue_ns))
        self.boundary_busy = self.busy_until.copy()

    def _dispatch_compiled(self, now_ns: int, step_end_ns: int) -> None:
        """dispatch's starts, DISPATCH_BATCH queued operations per compiled call; queued
        operations are taken (cancelled ones dropped) exactly as _next_queued takes them."""
        settings = self._settings
        while True:
            head = self._queued_head(DISPATCH_BATCH + 1)
            more = len(head) > DISPATCH_BATCH
            head = head[:DISPATCH_BATCH]
            k = len(head)
            issue = np.fromiter((op.issue_ns for op in head), dtype=np.int64, count=k)
            pages = np.fromiter((op.pages.size for op in head), dtype=np.int64, count=k)
            write = np.fromiter((op.cls in WRITE_CLASSES for op in head), dtype=np.bool_, count=k)
            lane, start, done = (np.empty(k, dtype=np.int64) for _ in range(3))
            started, wanted = dispatch_queued(
                settings, self.busy_until, self.spare_lanes, self.demand_lanes_in_order,
                now_ns, step_end_ns, issue, pages, write, more, lane, start, done,
            )  # fmt: skip
            rows = zip(lane.tolist(), start.tolist(), done.tolist(), strict=True)
            busy = [0] * N_CLASSES
            for op, (op_lane, op_start, op_done) in zip(head[:started], rows, strict=False):
                self._next_queued()  # it is op: dropping the cancelled ones before it
                op.lane, op.start_ns, op.done_ns = op_lane, op_start, op_done
                busy[op.cls] += op_done - op_start
                heapq.heappush(self.in_flight, (op_done, op.seq, op))
            self.busy_ns += busy
            if not wanted:
                return
            if not more:
                self._next_queued()  # none left: as dispatch, it drops the cancelled ones
                return

    def _queued_head(self, n: int) -> list[Op]:
        """The first n operations _next_queued would take, left in their queues."""
        head: list[Op] = []
        for q in self.queues:
            for op in q:
                if not op.cancelled:
                    head.append(op)
                    if len(head) == n:
                        return head
        return head

    def _next_queued(self) -> Op | None:
        for q in self.queues:
            while q:
                op = q.popleft()
                if not op.cancelled:
                    return op
        return None

    def pop_completed(self, until_ns: int) -> list[Op]:
        """Operations finished by until_ns, in completion order."""
        done = []
        in_flight = self.in_flight
        while in_flight and in_flight[0][0] <= until_ns:
            done.append(heapq.heappop(in_flight)[2])
        if done:
            # Summed per class first: a numpy element added per operation costs more.
            pages, ops = [0] * N_CLASSES, [0] * N_CLASSES
            for op in done:
                pages[op.cls] += op.pages.size
                ops[op.cls] += 1
            self.pages_done += pages
            self.ops_done += ops
        return done

    def take_op(self, op: Op) -> None:
        """Remove one in-flight op early (a vCPU waited for it and it is complete for it)."""
        self.in_flight.remove((op.done_ns, op.seq, op))
        heapq.heapify(self.in_flight)
        self.pages_done[op.cls] += op.pages.size
        self.ops_done[op.cls] += 1

    def next_completion_ns(self) -> int | None:
        return self.in_flight[0][0] if self.in_flight else None

    def queued_ops(self) -> int:
        return sum(len(q) for q in self.queues)

    def queue_depth(self, now_ns: int) -> int:
        """Operations waiting or in service at now_ns."""
        in_service = int(np.count_nonzero(self.busy_until > now_ns))
        return self.queued_ops() + in_service
