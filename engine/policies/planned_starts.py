"""The scheduler's plan as `predictive` reads it: each VM's next planned start within the
horizon. A mixin of PredictivePaging, which sets the attributes declared here."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from engine.hotpath.next_start import next_planned_starts

if TYPE_CHECKING:
    from engine.policies.context import PolicyContext

NEVER = 1 << 62  # "not in the plan": farther than any planned start


class PlannedStarts:
    """Per VM, its next planned start (a running VM: after its current slice), cached per
    plan and step."""

    ctx: PolicyContext
    vcpu_vm: np.ndarray  # per vCPU: its VM
    running_vcpus: np.ndarray  # per VM: its vCPUs running now
    run_until: np.ndarray  # per VM: when its running slices end
    horizon_ns: int  # how far ahead the plan is read
    tolerance_ns: int  # how early a planned start may come and still be this slice's
    _plan_key: tuple[int, int]  # (plan, now) of the cached starts
    _next: np.ndarray

    def next_starts(self, now_ns: int) -> np.ndarray:
        """Each VM's next planned start within the horizon (a running VM: after its current
        slice); NEVER when it is not in the plan. Cached per plan and step; computed in one
        compiled call (engine.hotpath.next_start): `next_starts_reference`'s starts."""
        plan = self.ctx.boundary_plan
        key = (id(plan), now_ns)
        if key == self._plan_key:
            return self._next
        out = np.empty(self.ctx.n_vms, dtype=np.int64)
        next_planned_starts(
            plan.vcpu, plan.start_ns, self.vcpu_vm, self.running_vcpus, self.run_until,
            self.tolerance_ns, now_ns, self.horizon_ns, NEVER, out,
        )  # fmt: skip
        self._plan_key, self._next = key, out
        return out

    def next_starts_reference(self, now_ns: int) -> np.ndarray:
        """next_starts' rule, stated in numpy (uncached)."""
        plan = self.ctx.boundary_plan
        out = np.full(self.ctx.n_vms, NEVER, dtype=np.int64)
        if plan.vcpu.size:
            vm = self.vcpu_vm[plan.vcpu]
            running = self.running_vcpus > 0
            cutoff = np.where(running, self.run_until - self.tolerance_ns, -NEVER)
            ok = (plan.start_ns < now_ns + self.horizon_ns) & (plan.start_ns >= cutoff[vm])
            np.minimum.at(out, vm[ok], plan.start_ns[ok])
            planned = out < NEVER
            out[planned] = np.maximum(out[planned], now_ns)
        return out
