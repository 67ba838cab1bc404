"""Dispatch gating for `predictive` (granted claim 1 of US 9,619,287): a VM's slice starts only
once its restore has landed (bounded by gate_max_wait_ms), and a VM planned later does not take
the slot of one held back; every hold is booked as gating delay. A mixin of PredictivePaging,
which sets the attributes declared here."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from engine.device import Op
from engine.policies.planned_starts import NEVER

if TYPE_CHECKING:
    from engine.machine import Machine
    from engine.policies.context import PolicyContext


class DispatchGating:
    """Whether a vCPU may be dispatched now, and the time each was held back."""

    ctx: PolicyContext
    machine: Machine
    vcpu_vm: np.ndarray  # per vCPU: its VM
    ops: list[list[Op]]  # per VM: its restore reads not yet landed
    max_wait_ns: int  # longest a vCPU is held for its own restore
    tolerance_ns: int  # how much later than a held VM's start counts as planned later
    gate_since: np.ndarray  # per vCPU: held for its own restore since (-1: not held)
    behind_since: np.ndarray  # per vCPU: held behind a held one since (-1: not)
    behind_last: np.ndarray  # per vCPU: last refused behind a held one
    behind_ns: np.ndarray  # per vCPU: its earlier holds behind others not yet booked
    holding: int  # the time ready() last held a vCPU back
    _on: Callable[[str], bool]
    next_starts: Callable[[int], np.ndarray]

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

    def _book_dispatch(self, vcpu: int, vm: int, now_ns: int) -> bool:
        """The vCPU is dispatched: book the time it was held back (for its VM's restore or
        behind a held vCPU) as gating delay. Whether it was held for its VM's restore."""
        since = int(self.gate_since[vcpu])
        behind = self._take_behind(vcpu, now_ns)
        if since >= 0 or behind > 0:
            self.gate_since[vcpu] = -1
            own = now_ns - since if since >= 0 else 0
            self.machine.count_gated_dispatch(vm, own + behind)
        return since >= 0

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
