"""The plan-driven restore of `predictive` ('287 claims 1 and 3): a VM's working set is read
back during its inactive time, started a lead time before its planned slice (from the device
model), no more than the device can land by then, with frames taken from pages needed later;
restore reads of a VM that left the plan are cancelled. A mixin of PredictivePaging, which
sets the attributes declared here."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from engine.device import WRITE_TO_FREE, Op
from engine.policies.demand import DemandPaging
from engine.policies.planned_starts import NEVER

if TYPE_CHECKING:
    from engine.machine import Machine
    from engine.policies.context import PolicyContext


class PlanRestore:
    """When each VM's restore starts, what it reads, and where its frames come from."""

    ctx: PolicyContext
    machine: Machine
    params: dict[str, Any]
    ops: list[list[Op]]  # per VM: its restore reads not yet landed
    armed: np.ndarray  # per VM: a restore is due for its next period
    restoring: np.ndarray  # per VM: and its first read was issued
    ws_size: np.ndarray  # per VM: its working set at its last deschedule
    restored: np.ndarray  # per page: restored and not yet scored
    cap_pages: int  # most pages one restore reads
    batch: int  # pages per restore read operation
    max_wait_ns: int  # longest a vCPU is held back by gating
    stats: dict[str, int]
    _on: Callable[[str], bool]
    lead_ns: Callable[[int, int], int]
    deliverable: Callable[[int, int], int]
    restore_set: Callable[[int, int], np.ndarray]
    restore_set_size: Callable[[int, int], int]  # restore_set(...).size, counted
    ranked_victims: Callable[..., np.ndarray]

    def budget(self, start_ns: int, now_ns: int) -> int:
        wait = self.max_wait_ns if self._on("gating") else 0
        return self.deliverable(start_ns - now_ns + wait, now_ns)

    def _prune_restores(self, nxt: np.ndarray, now_ns: int) -> None:
        """Forget the restore reads that landed or were cancelled; cancel the queued ones of a
        VM that left the plan horizon (its restore would land for nothing)."""
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

    def _restore_due(self, nxt: np.ndarray, now_ns: int) -> None:
        """Restore, soonest planned start first, the VMs whose restore is armed."""
        for vm in np.argsort(nxt, kind="stable").tolist():
            if nxt[vm] == NEVER:
                break
            if self.armed[vm]:
                self._restore(vm, int(nxt[vm]), now_ns)

    def _restore(self, vm: int, start_ns: int, now_ns: int) -> None:
        step = self.ctx.step_ns
        lead_on = self.params.get("device_lead", True)
        if lead_on:
            upper = self.lead_ns(min(int(self.ws_size[vm]), self.cap_pages), now_ns)
            if start_ns - now_ns > upper + step:
                return
        # The set's size first (a count): its pages are ordered only when they are read now,
        # which is not the case in most steps that come this far.
        size = self.restore_set_size(vm, now_ns)
        if size == 0:
            return
        if lead_on and start_ns - now_ns > self.lead_ns(size, now_ns) + step:
            return
        pages = self.restore_set(vm, now_ns)
        if lead_on:
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
                victims = DemandPaging.victims(cast(DemandPaging, self), short, now_ns)
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
