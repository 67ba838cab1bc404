"""CPU schedulers over vCPUs: round robin and a Xen-credit-like one, each with its plan.

The plan is the scheduler's own projection of its next slices (vcpu, pcpu, start, end) over a
horizon, assuming running vCPUs use their whole slice, runnable ones stay runnable, and sleeping
ones wake when their timers say. It is what the scheduler can honestly know: a vCPU that goes
to sleep early, or a wake-up it did not expect, makes it wrong, and plan accuracy measures that.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from engine.scenario.schema import Scheduler as SchedulerParams

BOOST, UNDER, OVER = 0, 1, 2
NEVER_NS = (1 << 63) - 1
PRIORITY_NAMES = ("boost", "under", "over")


@dataclass
class Plan:
    """Predicted slices, sorted by start time."""

    vcpu: np.ndarray
    pcpu: np.ndarray
    start_ns: np.ndarray
    end_ns: np.ndarray
    made_ns: int

    def next_start(self, vcpu: int) -> int:
        """The first planned start of a vCPU, or -1 if it is not in the plan."""
        hit = np.flatnonzero(self.vcpu == vcpu)
        return int(self.start_ns[hit[0]]) if hit.size else -1

    @staticmethod
    def empty(now_ns: int) -> Plan:
        z = np.zeros(0, dtype=np.int64)
        return Plan(z, z.copy(), z.copy(), z.copy(), now_ns)


class BaseScheduler:
    """A global runqueue of vCPUs (Xen credit2 shares runqueues too); pCPUs pick from it."""

    def __init__(
        self,
        params: SchedulerParams,
        n_pcpus: int,
        vcpu_vm: list[int],
        vm_weight: list[int],
        vm_cap_pct: list[int],
    ):
        self.params = params
        self.n_pcpus = n_pcpus
        self.vcpu_vm = vcpu_vm
        self.vm_weight = vm_weight
        self.vm_cap_pct = vm_cap_pct
        self.slice_ns = int(params.slice_ms * 1e6)
        self.queue: dict[int, int] = {}  # vcpu -> enqueue sequence number
        self.seq = 0
        self.version = 0  # bumps whenever the projection could change

    # -- the runqueue --------------------------------------------------------------------------
    def enqueue(self, vcpu: int, now_ns: int, woke: bool = False) -> None:
        self.queue[vcpu] = self.seq
        self.seq += 1
        self.version += 1

    def dequeue(self, vcpu: int) -> None:
        if self.queue.pop(vcpu, None) is not None:
            self.version += 1

    def order(self) -> list[int]:
        """Runnable vCPUs, the next to run first."""
        return sorted(self.queue, key=self.queue.__getitem__)

    def pick(self, now_ns: int, ready: object = None) -> tuple[int, int]:
        """Take the first runnable vCPU that is ready; returns (vcpu, skipped) or (-1, skipped)."""
        skipped = 0
        for v in self.order():
            if ready is None or ready(v):  # type: ignore[operator]
                del self.queue[v]
                self.version += 1
                return v, skipped
            skipped += 1
        return -1, skipped

    def slice_for(self, vcpu: int) -> int:
        return self.slice_ns

    def charge(self, vcpu: int, ran_ns: int, now_ns: int) -> None:
        """Account a finished run."""
        self.version += 1

    def boundary(self, now_ns: int) -> None:
        """Called at every step boundary (credit accounting)."""
        return None

    def next_event_ns(self) -> int:
        """The first time at which boundary() does something (so the steps before it may run
        without calling it)."""
        return NEVER_NS

    # -- the plan ------------------------------------------------------------------------------
    def plan(
        self,
        now_ns: int,
        horizon_ns: int,
        running: list[tuple[int, int, int]],
        wakeups: list[tuple[int, int]],
        idle_pcpus: list[int],
    ) -> Plan:
        """Project dispatches: running = (vcpu, pcpu, slice_end); wakeups = (wake_ns, vcpu)."""
        end = now_ns + horizon_ns
        free: list[tuple[int, int, int]] = [(s_end, p, v) for v, p, s_end in running]
        free += [(now_ns, p, -1) for p in idle_pcpus]
        heapq.heapify(free)
        queue = self._projection_queue()
        wakes = sorted(wakeups)
        wi = 0
        out_v, out_p, out_s, out_e = [], [], [], []
        guard = 0
        while free and guard < 4096:
            guard += 1
            t, p, prev = heapq.heappop(free)
            if t >= end:
                break
            while wi < len(wakes) and wakes[wi][0] <= t:
                self._project_enqueue(queue, wakes[wi][1], woke=True)
                wi += 1
            if prev >= 0:
                self._project_charge(queue, prev)
            v = self._project_pick(queue)
            if v < 0:
                if wi < len(wakes):
                    heapq.heappush(free, (max(t, wakes[wi][0]), p, -1))
                continue
            s_end = t + self.slice_ns
            out_v.append(v)
            out_p.append(p)
            out_s.append(t)
            out_e.append(s_end)
            heapq.heappush(free, (s_end, p, v))
        order = np.argsort(np.asarray(out_s, dtype=np.int64), kind="stable")
        return Plan(
            np.asarray(out_v, dtype=np.int64)[order],
            np.asarray(out_p, dtype=np.int64)[order],
            np.asarray(out_s, dtype=np.int64)[order],
            np.asarray(out_e, dtype=np.int64)[order],
            now_ns,
        )

    # Projection hooks: a list of vCPUs in run order (round robin).
    def _projection_queue(self) -> list:
        return self.order()

    def _project_enqueue(self, queue: list, vcpu: int, woke: bool) -> None:
        queue.append(vcpu)

    def _project_charge(self, queue: list, vcpu: int) -> None:
        queue.append(vcpu)

    def _project_pick(self, queue: list) -> int:
        return queue.pop(0) if queue else -1


class RoundRobin(BaseScheduler):
    """FIFO runqueue, fixed quantum."""


class Credit(BaseScheduler):
    """Xen-credit-like: each accounting period VMs earn credit in proportion to their weight;
    running debits it. Runnable vCPUs run BOOST (just woke with credit left) before UNDER
    (credit left) before OVER; a capped VM out of credit is parked until the next period."""

    def __init__(self, *args: object, **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        n_vms = len(self.vm_weight)
        self.period_ns = int(self.params.accounting_ms * 1e6)
        self.credit = np.zeros(n_vms, dtype=np.int64)
        self.boosted: set[int] = set()
        self.next_accounting = 0
        self.vm_vcpus = np.bincount(np.asarray(self.vcpu_vm, dtype=np.int64), minlength=n_vms)

    def _earn(self, credit: np.ndarray) -> None:
        weights = np.asarray(self.vm_weight, dtype=np.float64)
        total = weights.sum()
        share = self.n_pcpus * self.period_ns * weights / total
        caps = np.asarray(self.vm_cap_pct, dtype=np.float64)
        capped = caps > 0
        share[capped] = np.minimum(share[capped], caps[capped] / 100.0 * self.period_ns)
        credit += share.astype(np.int64)
        limit = (self.period_ns * np.maximum(1, self.vm_vcpus)).astype(np.int64)
        np.clip(credit, -limit, limit, out=credit)

    def next_event_ns(self) -> int:
        return int(self.next_accounting)

    def boundary(self, now_ns: int) -> None:
        while now_ns >= self.next_accounting:
            self._earn(self.credit)
            self.next_accounting += self.period_ns
            self.version += 1

    def priority(self, vcpu: int, credit: np.ndarray | None = None) -> int:
        c = self.credit if credit is None else credit
        vm = self.vcpu_vm[vcpu]
        if c[vm] > 0:
            return BOOST if vcpu in self.boosted else UNDER
        return OVER

    def parked(self, vcpu: int, credit: np.ndarray | None = None) -> bool:
        c = self.credit if credit is None else credit
        vm = self.vcpu_vm[vcpu]
        return self.vm_cap_pct[vm] > 0 and c[vm] <= 0

    def enqueue(self, vcpu: int, now_ns: int, woke: bool = False) -> None:
        if woke and self.credit[self.vcpu_vm[vcpu]] > 0:
            self.boosted.add(vcpu)
        super().enqueue(vcpu, now_ns, woke)

    def order(self) -> list[int]:
        return sorted(
            (v for v in self.queue if not self.parked(v)),
            key=lambda v: (self.priority(v), self.queue[v]),
        )

    def charge(self, vcpu: int, ran_ns: int, now_ns: int) -> None:
        self.credit[self.vcpu_vm[vcpu]] -= ran_ns
        self.boosted.discard(vcpu)
        super().charge(vcpu, ran_ns, now_ns)

    # The projection keeps its own copy of credits and runs whole slices.
    def _projection_queue(self) -> list:
        return [self.credit.copy(), dict(self.queue), self.seq, set(self.boosted)]

    def _project_enqueue(self, queue: list, vcpu: int, woke: bool) -> None:
        credit, q, seq, boosted = queue
        if woke and credit[self.vcpu_vm[vcpu]] > 0:
            boosted.add(vcpu)
        q[vcpu] = seq
        queue[2] = seq + 1

    def _project_charge(self, queue: list, vcpu: int) -> None:
        credit, q, seq, boosted = queue
        credit[self.vcpu_vm[vcpu]] -= self.slice_ns
        boosted.discard(vcpu)
        q[vcpu] = seq
        queue[2] = seq + 1

    def _project_pick(self, queue: list) -> int:
        credit, q, _, boosted = queue
        best, best_key = -1, None
        for v, s in q.items():
            vm = self.vcpu_vm[v]
            if self.vm_cap_pct[vm] > 0 and credit[vm] <= 0:
                continue
            prio = OVER if credit[vm] <= 0 else (BOOST if v in boosted else UNDER)
            key = (prio, s)
            if best_key is None or key < best_key:
                best, best_key = v, key
        if best >= 0:
            del q[best]
        return best


def make_scheduler(
    params: SchedulerParams,
    n_pcpus: int,
    vcpu_vm: list[int],
    vm_weight: list[int],
    vm_cap_pct: list[int],
) -> BaseScheduler:
    cls = RoundRobin if params.kind == "rr" else Credit
    return cls(params, n_pcpus, vcpu_vm, vm_weight, vm_cap_pct)
