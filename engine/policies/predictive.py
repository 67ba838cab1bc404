"""Scheduler-informed predictive paging (the invention, US 2015/0095919 A1 family).

The memory manager reads the CPU scheduler's plan: it restores a VM's working set during the
VM's inactive time so that it lands just before the planned slice, takes victims from the VM
whose next planned start is farthest, writes back and swaps out a VM that goes inactive for
long, and holds a VM's dispatch until its restore has landed (bounded). Every mechanism is a
switch (docs/policies.md); with a plan horizon of 0 the policy has no scheduling information
and is exactly demand paging, and while the plan has been mostly wrong it backs off to it.

This module holds the policy's state and its answers to the engine's events; each mechanism
is a mixin of its own module: the plan per VM (`planned_starts`), working sets in VM time
(`working_sets`), the restore (`restore`), swap-out and write-back ahead of need
(`swap_out`), dispatch gating (`gating`), the back-off (`backoff`), lead times from the
device (`device_lead`) and victims ranked by the plan (`schedule_victims`). Its switches are
declared in `predictive_params`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from engine.device import Op
from engine.executor import BLOCK
from engine.policies.backoff import BACKOFF_STOPS as BACKOFF_STOPS
from engine.policies.backoff import UNPAID_STOPS as UNPAID_STOPS
from engine.policies.backoff import PlanBackOff
from engine.policies.benefit import MeasuredBenefit
from engine.policies.demand import DemandPaging
from engine.policies.device_lead import DeviceLeadTime
from engine.policies.gating import DispatchGating
from engine.policies.ghost_lru import GhostLru
from engine.policies.planned_starts import NEVER as NEVER
from engine.policies.planned_starts import PlannedStarts
from engine.policies.predictive_params import MECHANISMS as MECHANISMS
from engine.policies.predictive_params import RETIRED, PredictiveParams
from engine.policies.registry import register
from engine.policies.restore import PlanRestore
from engine.policies.schedule_victims import PROTECTED as PROTECTED
from engine.policies.schedule_victims import ScheduleVictims
from engine.policies.swap_out import SwapOutAhead
from engine.policies.working_sets import WorkingSets

if TYPE_CHECKING:
    from engine.policies.context import PolicyContext


@register
class PredictivePaging(
    PlanRestore,
    SwapOutAhead,
    DispatchGating,
    PlanBackOff,
    WorkingSets,
    PlannedStarts,
    DeviceLeadTime,
    ScheduleVictims,
    DemandPaging,
):
    """Demand paging plus everything the scheduler's plan makes possible."""

    name = "predictive"
    menu_rank = 1
    Params = PredictiveParams
    retired = RETIRED

    def __init__(self, params: dict[str, Any], ctx: PolicyContext):
        super().__init__(params, ctx)
        p = self.params
        self.horizon_ns = round(float(p.get("horizon_ms", 150.0)) * 1e6)
        self.active = self.horizon_ns > 0
        n_vms = ctx.n_vms
        self.vcpu_vm = np.array([vc.vm for vc in ctx.vcpus], dtype=np.int64)
        # Working sets in each VM's own clock, its scheduled time (time with a vCPU running),
        # so pages do not age while their VM waits: a page's VM time at its last touch, and
        # bit i set if touched in the VM's i-th most recent active period (for frequency).
        # Stamps derive from the executors' exact last-use times, so both executors agree.
        self.vm_time = np.zeros(n_vms, dtype=np.int64)  # VM time when its period began
        self.touch_vns = np.zeros(self.machine.pool.n_pages, dtype=np.int64)
        self.history = np.zeros(self.machine.pool.n_pages, dtype=np.uint32)
        k = int(p.get("restore_periods", 6))
        self.ws_vns = k * ctx.slice_ns  # k active periods of execution
        self.running_vcpus = np.zeros(n_vms, dtype=np.int64)
        self.run_until = np.zeros(n_vms, dtype=np.int64)
        self.period_start = np.zeros(n_vms, dtype=np.int64)
        self.written = np.zeros(n_vms, dtype=bool)  # background writing done this period
        self.wb_pages = np.zeros(n_vms, dtype=np.int64)  # and the swap-out pages it covered
        self.paused = np.zeros(n_vms, dtype=bool)  # blocked on a read, its period goes on
        self.armed = np.zeros(n_vms, dtype=bool)  # a restore is due for the next period
        self.restoring = np.zeros(n_vms, dtype=bool)  # and its first read was issued
        self.ws_size = np.zeros(n_vms, dtype=np.int64)  # working set at the last deschedule
        self.ops: list[list[Op]] = [[] for _ in range(n_vms)]  # restore reads not yet landed
        self.gate_since = np.full(len(ctx.vcpus), -1, dtype=np.int64)
        # Held back only because a VM planned sooner is held (not for its own restore): since
        # when, last refused when, and the time of its earlier holds not yet booked.
        self.behind_since = np.full(len(ctx.vcpus), -1, dtype=np.int64)
        self.behind_last = np.full(len(ctx.vcpus), -1, dtype=np.int64)
        self.behind_ns = np.zeros(len(ctx.vcpus), dtype=np.int64)
        self.vcpu_blocked = np.zeros(len(ctx.vcpus), dtype=bool)
        self.went_idle: list[int] = []
        # Restore usefulness: pages restored and not yet touched, and a per-VM scale of the
        # cap that halves when most of a restore went unused and recovers when it pays.
        self.restored = np.zeros(self.machine.pool.n_pages, dtype=bool)
        self.scale = np.ones(n_vms, dtype=np.float64)
        self.holding = -1  # the time ready() last held a vCPU back
        self.touch_ns = np.full(
            self.machine.pool.n_pages, -1, dtype=np.int64
        )  # last touch, host time
        # Which touches the shadow LRU's next step reads (a byte per page, whole words).
        self.touch_recent = np.zeros(-(-self.machine.pool.n_pages // 8) * 8, dtype=np.uint8)
        slice_ns = self.ctx.slice_ns
        # The back-off on measured benefit: demand paging's faults on the same references (a
        # shadow LRU) against the host's own stall, judged by epochs.
        self.by_benefit = p.get("backoff_on", "benefit") == "benefit"
        pool = self.machine.pool
        self.shadow = GhostLru(
            pool.base, pool.frames - self.machine.low_wm, self.readahead_cluster(0)
        )
        self.judge = MeasuredBenefit(
            epoch_ns=4 * slice_ns,
            fault_ns=self.machine.device.service_ns(self.readahead_cluster(0)),
            max_probation_epochs=8,
            min_evidence_faults=64,
        )
        self._shadow_since = 0
        self.shadow_trusted = False  # until then, the plan's accuracy decides
        self.not_paying = False  # the judge stood the mechanisms down
        self._stall_seen = 0  # the host's stall booked so far
        self.cap_pages = int(self.machine.pool.frames * float(p.get("restore_cap_pct", 50.0)) / 100)
        self.batch = int(p.get("prefetch_batch_pages", 32))
        self.margin_ns = int(float(p.get("lead_margin_us", 300.0)) * 1000)
        self.min_idle_ns = int(float(p.get("swap_out_min_idle_ms", 5.0)) * 1e6)
        self.max_wait_ns = int(float(p.get("gate_max_wait_ms", 3.0)) * 1e6)
        self.tolerance_ns = ctx.plan_tolerance_ns
        dev = self.machine.device
        spare = [lane for lane in dev.background_lanes if lane not in dev.demand_lanes]
        self.prefetch_lanes = np.array(spare or dev.background_lanes, dtype=np.int64)
        self.shared_lanes = not spare  # queued work then starts only at step boundaries
        # Every lane serves some pCPU's demand reads (a disk, channels <= pCPUs): a restore
        # read would hold up the running VMs' faults, so the policy stands down to demand.
        self.active = self.active and not self.shared_lanes
        self.accuracy = 0.5  # no evidence yet either way
        self.judged = 0
        self.backed_off = bool(p.get("backoff", True))
        self.plan_slack_ns = max(ctx.plan_tolerance_ns, 2 * dev.service_ns(1))
        self._plan_key: tuple[int, int] = (-1, -1)
        self._backlog_key: tuple[int, ...] = ()
        self._backlog_val = (0, 0, 0, 0, 0)
        self._next: np.ndarray = np.full(n_vms, NEVER, dtype=np.int64)
        self.stats = {
            "restores": 0,
            "restore_pages": 0,
            "lead_ns_total": 0,
            "lead_ns_max": 0,
            "swap_out_pages": 0,
            "write_back_pages": 0,
            "make_room_pages": 0,
            "cancelled_pages": 0,
            "backoff_steps": 0,
            "not_paying_steps": 0,
            "active_steps": 0,
        }

    def report(self) -> dict[str, Any]:
        """Whether the policy acted, and if not why: no plan, a device with no lane to spare
        from demand reads, or a plan mostly wrong (its accuracy against the back-off bar)."""
        dev = self.machine.device
        if self.horizon_ns <= 0:
            stood_down = "it has no plan (its horizon is 0 ms)"
        elif not self.active:
            lanes = "only channel serves" if dev.channels == 1 else f"{dev.channels} channels serve"
            stood_down = (
                f"the swap device's {lanes} the demand reads of {self.ctx.n_pcpus} pCPUs"
                " (a restore read would hold up their faults)"
            )
        else:
            stood_down = ""
        steps = self.stats["active_steps"]
        return {
            "stood_down": stood_down,
            "plan_accuracy": round(float(self.accuracy), 6),
            "backoff": bool(self.params.get("backoff", True)),
            "backoff_below": float(self.params.get("backoff_below", 0.7)),
            "backed_off_share": round(self.stats["backoff_steps"] / steps, 6) if steps else 0.0,
            "backed_off_at_end": bool(self.active and self.backed_off),
        }

    def victims(self, n: int, now_ns: int, clean_only: bool = False) -> np.ndarray:
        if not self._on("schedule_victims"):
            return super().victims(n, now_ns, clean_only)
        return self.ranked_victims(n, now_ns, clean_only)

    def on_dispatch(self, vcpu: int, pcpu: int, now_ns: int) -> None:
        vm = int(self.vcpu_vm[vcpu])
        if self.running_vcpus[vm] == 0:
            self.period_start[vm] = now_ns
            if not self.paused[vm]:  # a new active period (not the end of a wait for a read)
                lo, hi = self.machine.pool.vm_range(vm)
                self.history[lo:hi] <<= np.uint32(1)
            self.paused[vm] = False
        self.running_vcpus[vm] += 1
        self.armed[vm] = self.restoring[vm] = False  # what is still out, it faults in itself
        self.written[vm] = False
        self.run_until[vm] = max(int(self.run_until[vm]), self.ctx.slice_end[pcpu])
        gated = self._book_dispatch(vcpu, vm, now_ns)
        resumed = bool(self.vcpu_blocked[vcpu])
        self.vcpu_blocked[vcpu] = False
        if self.active and not resumed:  # the end of a wait for a read is no plan's test
            self._track_accuracy(vcpu, now_ns, gated=gated)

    def on_deschedule(self, vcpu: int, now_ns: int, reason: str) -> None:
        vm = int(self.vcpu_vm[vcpu])
        self.running_vcpus[vm] -= 1
        self.vcpu_blocked[vcpu] = reason == BLOCK
        if self.running_vcpus[vm] > 0:
            ends = [self.ctx.slice_end[p] for p, v in enumerate(self.ctx.running) if v >= 0]
            vms = [int(self.vcpu_vm[v]) for v in self.ctx.running if v >= 0]
            self.run_until[vm] = max(e for e, m in zip(ends, vms, strict=True) if m == vm)
            return
        self.run_until[vm] = now_ns
        self.vm_time[vm] += now_ns - int(self.period_start[vm])
        if reason == BLOCK:  # waiting for a read (yield-on-fault): still the same period
            self.paused[vm] = True
            return
        if self.active:
            self._score_restore(vm, now_ns)
            self.armed[vm] = True
            self.ws_size[vm] = self.working_set_size(vm, now_ns)
            self.went_idle.append(vm)

    def on_step(self, now_ns: int, step_end_ns: int) -> None:
        if not self.active:
            return
        self.stats["active_steps"] += 1
        if self.backed_off:
            self.stats["backoff_steps"] += 1
        self._judge_benefit(now_ns)
        nxt = self.next_starts(now_ns)
        self._prune_restores(nxt, now_ns)
        if self.went_idle:
            idle, self.went_idle = self.went_idle, []
            if self._on("swap_out") and self._on("restore"):
                self._swap_out(idle, nxt, now_ns)
        if self._on("write_back") and self._on("restore"):
            self._write_back(nxt, now_ns)
        if self._on("restore"):
            self._restore_due(nxt, now_ns)
