"""Scheduler-informed predictive paging (the invention, US 2015/0095919 A1 family).

The memory manager reads the CPU scheduler's plan: it restores a VM's working set during the
VM's inactive time so that it lands just before the planned slice, takes victims from the VM
whose next planned start is farthest, writes back and swaps out a VM that goes inactive for
long, and holds a VM's dispatch until its restore has landed (bounded). Every mechanism is a
switch (docs/policies.md); with a plan horizon of 0 the policy has no scheduling information
and is exactly demand paging, and while the plan has been mostly wrong it backs off to it.

Its switches are declared in `predictive_params`, its model of the swap device (lead times) in
`device_lead`, and its victims ranked by the plan in `schedule_victims`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from engine.device import BACKGROUND_WRITE, WRITE_TO_FREE, Op
from engine.executor import BLOCK
from engine.policies import victims as pick
from engine.policies.benefit import MeasuredBenefit
from engine.policies.demand import DemandPaging
from engine.policies.device_lead import DeviceLeadTime
from engine.policies.ghost_lru import GhostLru
from engine.policies.predictive_params import MECHANISMS as MECHANISMS
from engine.policies.predictive_params import RETIRED, PredictiveParams
from engine.policies.registry import register
from engine.policies.schedule_victims import PROTECTED as PROTECTED
from engine.policies.schedule_victims import ScheduleVictims
from engine.pool import DIRTY, PREFETCHED, SWAPPED

if TYPE_CHECKING:
    from engine.policies.context import PolicyContext

NEVER = 1 << 62  # "not in the plan": farther than any planned start
# While the plan has been mostly wrong, the policy is demand paging (it keeps learning).
BACKOFF_STOPS = ("restore", "gating", "schedule_victims", "swap_out", "write_back")
# While acting on the plan has not paid (engine.policies.benefit), the mechanisms that take
# frames or time ahead of need stand down; restoring what is already out goes on (stopping it
# mid-way would leave swapped-out VMs to fault everything back).
UNPAID_STOPS = ("gating", "swap_out", "write_back")


@register
class PredictivePaging(DeviceLeadTime, ScheduleVictims, DemandPaging):
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

    # -- switches, as they stand now --------------------------------------------------------------
    def _on(self, switch: str) -> bool:
        if not self.active or not self.params.get(switch, True):
            return False
        if self.not_paying and switch in UNPAID_STOPS:
            return False
        return not (self.backed_off and switch in BACKOFF_STOPS)

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

    # -- the plan, per VM -------------------------------------------------------------------------
    def next_starts(self, now_ns: int) -> np.ndarray:
        """Each VM's next planned start within the horizon (a running VM: after its current
        slice); NEVER when it is not in the plan. Cached per plan and step."""
        plan = self.ctx.boundary_plan
        key = (id(plan), now_ns)
        if key == self._plan_key:
            return self._next
        out = np.full(self.ctx.n_vms, NEVER, dtype=np.int64)
        if plan.vcpu.size:
            vm = self.vcpu_vm[plan.vcpu]
            running = self.running_vcpus > 0
            cutoff = np.where(running, self.run_until - self.tolerance_ns, -NEVER)
            ok = (plan.start_ns < now_ns + self.horizon_ns) & (plan.start_ns >= cutoff[vm])
            np.minimum.at(out, vm[ok], plan.start_ns[ok])
            planned = out < NEVER
            out[planned] = np.maximum(out[planned], now_ns)
        self._plan_key, self._next = key, out
        return out

    # -- victims ----------------------------------------------------------------------------------
    def victims(self, n: int, now_ns: int, clean_only: bool = False) -> np.ndarray:
        if not self._on("schedule_victims"):
            return super().victims(n, now_ns, clean_only)
        return self.ranked_victims(n, now_ns, clean_only)

    # -- working sets -----------------------------------------------------------------------------
    def after_run(self, vm: int, pages: np.ndarray, major_pages: np.ndarray) -> None:
        pool = self.machine.pool
        self.history[pages] |= np.uint32(1)
        start, base = int(self.period_start[vm]), int(self.vm_time[vm])
        self.touch_vns[pages] = base + (pool.last_use_ns[pages] - start)
        self.touch_ns[pages] = pool.last_use_ns[pages]
        cluster = int(self.machine.ra_cluster[vm])
        if major_pages.size and cluster > 1 and self.vector_readahead:
            # Readahead came in with these faults: it counts as used now, as LRU would see it.
            first = int(pool.base[vm])
            lo = first + (major_pages - first) // cluster * cluster
            ra = (lo[:, None] + np.arange(cluster)[None, :]).ravel()
            ra = ra[ra < pool.base[vm + 1]]
            # Only what landed in this period: a page of the cluster prefetched earlier keeps
            # its stamp (its load time is from another period, not this VM time's base).
            ra = ra[(pool.state[ra] == PREFETCHED) & (pool.load_ns[ra] >= start)]
            self.touch_vns[ra] = base + (pool.load_ns[ra] - start)

    def budget(self, start_ns: int, now_ns: int) -> int:
        wait = self.max_wait_ns if self._on("gating") else 0
        return self.deliverable(start_ns - now_ns + wait, now_ns)

    def restore_set(self, vm: int, now_ns: int) -> np.ndarray:
        """The VM's swapped-out working-set pages (used in its last k periods of execution) in
        restore order, capped."""
        pool = self.machine.pool
        lo, hi = pool.vm_range(vm)
        touched = self.touch_vns[lo:hi]
        since = max(1, self.vm_clock(vm, now_ns) - self.ws_vns)
        idx = np.flatnonzero((touched >= since) & (pool.state[lo:hi] == SWAPPED))
        if idx.size == 0:
            return idx
        pages = idx + lo
        recent = -touched[idx]
        if self.params.get("restore_order", "recency") == "frequency":
            order = np.lexsort((pages, recent, -np.bitwise_count(self.history[pages])))
        else:
            order = np.lexsort((pages, recent))
        return pages[order][: self.vm_cap(vm)]

    def vm_clock(self, vm: int, now_ns: int) -> int:
        """The VM's own time: its scheduled time so far."""
        t = int(self.vm_time[vm])
        return t + now_ns - int(self.period_start[vm]) if self.running_vcpus[vm] > 0 else t

    def vm_clocks(self, now_ns: int) -> np.ndarray:
        running = self.running_vcpus > 0
        return self.vm_time + np.where(running, now_ns - self.period_start, 0)

    def vm_cap(self, vm: int) -> int:
        return max(self.batch, int(self.cap_pages * float(self.scale[vm])))

    def working_set_size(self, vm: int, now_ns: int) -> int:
        lo, hi = self.machine.pool.vm_range(vm)
        since = max(1, self.vm_clock(vm, now_ns) - self.ws_vns)
        return int(np.count_nonzero(self.touch_vns[lo:hi] >= since))

    # -- scheduler events -------------------------------------------------------------------------
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
        since = int(self.gate_since[vcpu])
        behind = self._take_behind(vcpu, now_ns)
        if since >= 0 or behind > 0:
            self.gate_since[vcpu] = -1
            own = now_ns - since if since >= 0 else 0
            self.machine.count_gated_dispatch(vm, own + behind)
        resumed = bool(self.vcpu_blocked[vcpu])
        self.vcpu_blocked[vcpu] = False
        if self.active and not resumed:  # the end of a wait for a read is no plan's test
            self._track_accuracy(vcpu, now_ns, gated=since >= 0)

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

    def _score_restore(self, vm: int, now_ns: int) -> None:
        """At the end of an active period: how much of what was restored for it was used, which
        halves or doubles (up to the cap) what the VM's next restore reads."""
        lo, hi = self.machine.pool.vm_range(vm)
        marked = self.restored[lo:hi]
        n = int(np.count_nonzero(marked))
        if n < self.batch:
            return
        touched = marked & ((self.history[lo:hi] & np.uint32(1)) != 0)
        used = int(np.count_nonzero(touched))
        marked[:] = False
        if used < n // 2:
            self.scale[vm] = max(1.0 / 1024, self.scale[vm] / 2)
        elif used >= n * 4 // 5:
            self.scale[vm] = min(1.0, self.scale[vm] * 2)

    def ready(self, vcpu: int, now_ns: int) -> bool:
        """False while the VM's restore is in flight (up to gate_max_wait_ms), and for a VM
        planned later than a vCPU held back now: it would take the slot, and the frames,
        the plan gave the held one."""
        if not self._on("gating"):
            return True
        vm = int(self.vcpu_vm[vcpu])
        if self._pending(vm, now_ns):
            since = int(self.gate_since[vcpu])
            if since < 0:
                self.gate_since[vcpu] = since = now_ns
            if now_ns - since < self.max_wait_ns:
                self.holding = now_ns
                return False
            return True
        if self.holding == now_ns:
            nxt = self.next_starts(now_ns)
            held = self.gate_since >= 0
            first_held = int(nxt[self.vcpu_vm[held]].min()) if held.any() else NEVER
            if int(nxt[vm]) > first_held + self.tolerance_ns:
                self._hold_behind(vcpu, now_ns)
                return False
        return True

    def _hold_behind(self, vcpu: int, now_ns: int) -> None:
        """Book a refusal of a vCPU held behind a held one. A hold lasts from the first refusal
        to one step past the last (an idle pCPU asks again every step); the wait after it, for
        a pCPU to come free, is the scheduler's, not gating's."""
        last = int(self.behind_last[vcpu])
        if last < 0:
            self.behind_since[vcpu] = now_ns
        elif now_ns - last > self.ctx.step_ns:  # a new hold: the earlier one ended
            self.behind_ns[vcpu] += last + self.ctx.step_ns - int(self.behind_since[vcpu])
            self.behind_since[vcpu] = now_ns
        self.behind_last[vcpu] = now_ns

    def _take_behind(self, vcpu: int, now_ns: int) -> int:
        """The time the vCPU was held behind others since it last ran (0: never), cleared."""
        last = int(self.behind_last[vcpu])
        held = int(self.behind_ns[vcpu])
        if last >= 0:
            held += min(now_ns, last + self.ctx.step_ns) - int(self.behind_since[vcpu])
        self.behind_ns[vcpu] = 0
        self.behind_since[vcpu] = self.behind_last[vcpu] = -1
        return held

    def on_end(self, end_ns: int) -> None:
        """A vCPU still held back when the run ends lost that time too (no dispatch counted);
        a hold for its own restore lasts at most gate_max_wait_ms."""
        for vcpu in range(len(self.ctx.vcpus)):
            since = int(self.gate_since[vcpu])
            own = min(end_ns - since, self.max_wait_ns) if since >= 0 else 0
            held = own + self._take_behind(vcpu, end_ns)
            self.gate_since[vcpu] = -1
            if held > 0:
                vm = int(self.vcpu_vm[vcpu])
                self.machine.count_gated_dispatch(vm, held, dispatched=False)

    def _pending(self, vm: int, now_ns: int) -> bool:
        """A restore read of the VM is on the device now. Reads still queued do not hold the
        VM: on a lane shared with demand reads they may wait for a long time."""
        return any(
            not op.cancelled and op.start_ns >= 0 and op.done_ns > now_ns for op in self.ops[vm]
        )

    # -- the step: back off, cancel, swap out, restore --------------------------------------------
    def on_step(self, now_ns: int, step_end_ns: int) -> None:
        if not self.active:
            return
        self.stats["active_steps"] += 1
        if self.backed_off:
            self.stats["backoff_steps"] += 1
        self._judge_benefit(now_ns)
        nxt = self.next_starts(now_ns)
        for vm in range(self.ctx.n_vms):
            if self.ops[vm]:
                self.ops[vm] = [
                    op
                    for op in self.ops[vm]
                    if not op.cancelled and (op.start_ns < 0 or op.done_ns > now_ns)
                ]
                if self.ops[vm] and nxt[vm] == NEVER and self.params.get("cancel", True):
                    queued = [op for op in self.ops[vm] if op.start_ns < 0]
                    self.stats["cancelled_pages"] += self.machine.cancel_ops(queued, now_ns)
        if self.went_idle:
            idle, self.went_idle = self.went_idle, []
            if self._on("swap_out") and self._on("restore"):
                self._swap_out(idle, nxt, now_ns)
        if self._on("write_back") and self._on("restore"):
            self._write_back(nxt, now_ns)
        if self._on("restore"):
            for vm in np.argsort(nxt, kind="stable").tolist():
                if nxt[vm] == NEVER:
                    break
                if self.armed[vm]:
                    self._restore(vm, int(nxt[vm]), now_ns)

    def _judge_benefit(self, now_ns: int) -> None:
        """Count, for the last step, demand paging's faults on the references made (the
        shadow) and the host's own stall; with the back-off on measured benefit, once the
        shadow can be trusted (engine.policies.ghost_lru), the judge's verdict is whether the
        plan-driven mechanisms act now (before, and where it never can, the plan's accuracy)."""
        if not self.by_benefit:
            return
        pages = np.flatnonzero(self.touch_ns >= self._shadow_since)
        shadow = self.shadow.step(pages, self.touch_ns[pages], now_ns)
        self._shadow_since = now_ns
        c = self.machine.counters
        stall = int(c.stall_ns.sum())
        self.judge.seen(shadow, stall - self._stall_seen)
        self._stall_seen = stall
        if not self.params.get("backoff", True):
            return
        trusted = self.shadow.trusted()
        if trusted and not self.shadow_trusted:  # the judge takes over: a fresh trial
            self.judge.restart(now_ns)
        self.shadow_trusted = trusted
        if trusted:
            # The plan-driven mechanisms that take frames or time ahead of need stand down;
            # restores go on, so a VM swapped out for its cycle is not left to fault back.
            self.backed_off = False
            self.not_paying = not self.judge.decide(now_ns)
            self.stats["not_paying_steps"] += int(self.not_paying)

    def _track_accuracy(self, vcpu: int, now_ns: int, gated: bool) -> None:
        """Plan accuracy over recent dispatches (exponentially weighted): was this dispatch
        predicted by the plan of the last boundary, within a tolerance of one step or of two
        device reads (a non-preemptible fault may overrun a slice by one)? Dispatches gating
        itself moved do not count. The policy starts backed off: it acts on the plan once the
        plan has proven right."""
        if gated:
            return
        predicted = self.ctx.boundary_plan.next_start(vcpu)
        planned = predicted >= 0 and abs(predicted - now_ns) <= self.plan_slack_ns
        # While there is little evidence, its mean under Jeffreys' prior (half a right and
        # half a wrong dispatch: three right ones in a row engage the policy); then an
        # exponentially weighted mean of the recent dispatches.
        self.judged += 1
        weight = max(1.0 / 8, 1.0 / (self.judged + 1))
        self.accuracy += (float(planned) - self.accuracy) * weight
        if not self.params.get("backoff", True):
            self.backed_off = False
            return
        if self.by_benefit and self.shadow_trusted:
            return
        below = float(self.params.get("backoff_below", 0.7))
        if self.backed_off:
            self.backed_off = self.accuracy < min(0.95, below + 0.15)
        else:
            self.backed_off = self.accuracy < below

    def _swap_out(self, idle: list[int], nxt: np.ndarray, now_ns: int) -> None:
        """A VM that just went inactive for long swaps out, in the background, its least
        recently used pages that the restores planned before its return need frames for."""
        m, pool = self.machine, self.machine.pool
        away = [vm for vm in idle if self.running_vcpus[vm] == 0]
        away = [vm for vm in away if int(nxt[vm]) - now_ns >= self.min_idle_ns]
        for vm in sorted(away, key=lambda u: (-int(nxt[u]), u)):  # farthest first
            sooner = np.flatnonzero((nxt < nxt[vm]) & self.armed & (self.running_vcpus == 0))
            # What those restores will read: their working sets, within what the device can
            # land before each start (the device is shared, so the budgets are cumulative).
            need = 0
            for u in sorted(sooner.tolist(), key=lambda x: (int(nxt[x]), x)):
                room = self.budget(int(nxt[u]), now_ns) - need
                need += max(0, min(int(self.restore_set(u, now_ns).size), room))
            short = need - (pool.free_frames - m.low_wm) - m.writing_pending
            if short <= 0:
                continue
            lo, hi = pool.vm_range(vm)
            cand = pick.candidates(pool, False, lo, hi)
            pages = pick.smallest(self.touch_vns[cand], cand, short)
            m.evict(pages, now_ns, BACKGROUND_WRITE, for_prefetch=True)
            self.stats["swap_out_pages"] += int(pages.size)

    def _write_back(self, nxt: np.ndarray, now_ns: int) -> None:
        """Background writing (Ryu et al.): a VM whose slice ends soon and that will then be
        inactive for long writes back, in time, the dirty pages the swap-out at its switch
        will take (its least recently used), so they are clean when the frames are needed."""
        m, pool = self.machine, self.machine.pool
        step = self.ctx.step_ns
        ending = [
            vm
            for vm in range(self.ctx.n_vms)
            if self.running_vcpus[vm] > 0
            and not self.written[vm]
            and int(nxt[vm]) - int(self.run_until[vm]) >= self.min_idle_ns
        ]
        if not ending:
            return
        end = min(int(self.run_until[vm]) for vm in ending)
        coming = np.flatnonzero(self.armed & (self.running_vcpus == 0) & (nxt <= end + step))
        need = 0
        for u in sorted(coming.tolist(), key=lambda x: (int(nxt[x]), x)):
            room = self.budget(int(nxt[u]), now_ns) - need
            need += max(0, min(int(self.restore_set(u, now_ns).size), room))
        need -= pool.free_frames - m.low_wm + m.writing_pending
        # What an ending VM already covers for this switch counts once, not once per VM.
        need -= int(self.wb_pages[(self.running_vcpus > 0) & self.written].sum())
        if need <= 0:
            return
        for vm in sorted(ending, key=lambda u: (int(self.run_until[u]), u)):
            if need <= 0:
                break
            # The pages the swap-out will take (its least recently used); the dirty ones
            # among them are written now, the clean ones free their frames as they are.
            lo, hi = pool.vm_range(vm)
            cand = pick.candidates(pool, False, lo, hi)
            pages = pick.smallest(self.touch_vns[cand], cand, need)
            dirty = pages[pool.state[pages] == DIRTY]
            if int(self.run_until[vm]) - now_ns > self.lead_ns(int(dirty.size), now_ns) + step:
                continue  # not yet: written too early, they would be dirtied again
            self.written[vm] = True
            self.wb_pages[vm] = pages.size
            self.stats["write_back_pages"] += m.write_back(dirty, now_ns)
            need -= int(pages.size)

    def _restore(self, vm: int, start_ns: int, now_ns: int) -> None:
        step = self.ctx.step_ns
        lead_on = self.params.get("device_lead", True)
        if lead_on:
            upper = self.lead_ns(min(int(self.ws_size[vm]), self.cap_pages), now_ns)
            if start_ns - now_ns > upper + step:
                return
        pages = self.restore_set(vm, now_ns)
        if pages.size == 0:
            return
        if lead_on:
            if start_ns - now_ns > self.lead_ns(int(pages.size), now_ns) + step:
                return
            # No more than the device can land by the start (plus the gating wait).
            pages = pages[: self.budget(start_ns, now_ns)]
            if pages.size == 0:
                return
        m, pool = self.machine, self.machine.pool
        short = int(pages.size) - (pool.free_frames - m.low_wm) - m.writing_pending
        if short > 0:
            if self._on("schedule_victims"):
                victims = self.ranked_victims(short, now_ns, above=start_ns)
            else:
                victims = DemandPaging.victims(self, short, now_ns)
            m.evict(victims, now_ns, WRITE_TO_FREE, for_prefetch=True)
            self.stats["make_room_pages"] += int(victims.size)
        issued = self._issue(vm, pages, now_ns)
        if issued:
            self.stats["restore_pages"] += issued
            if not self.restoring[vm]:  # the first read of this restore: its lead time
                self.restoring[vm] = True
                self.stats["restores"] += 1
                lead_now = start_ns - now_ns
                self.stats["lead_ns_total"] += lead_now
                self.stats["lead_ns_max"] = max(self.stats["lead_ns_max"], lead_now)

    def _issue(self, vm: int, pages: np.ndarray, now_ns: int) -> int:
        new = self.machine.prefetch(vm, pages, now_ns, batch=self.batch)
        self.ops[vm].extend(new)
        for op in new:
            self.restored[op.pages] = True
        return sum(int(op.pages.size) for op in new)
