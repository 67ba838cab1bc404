"""Each VM's next planned start, compiled: `predictive`'s reading of the scheduler's plan
(engine.policies.planned_starts), one pass over the plan's slices where numpy took a dozen
calls and an unbuffered minimum (~40 µs a step on nvme_8vm_2x, against ~2 µs here)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def next_planned_starts(
    plan_vcpu: np.ndarray, plan_start_ns: np.ndarray, vcpu_vm: np.ndarray,
    running_vcpus: np.ndarray, run_until: np.ndarray, tolerance_ns: int, now_ns: int,
    horizon_ns: int, never: int, out: np.ndarray,
) -> None:  # fmt: skip
    """out[vm] = the VM's earliest planned slice start before now_ns + horizon_ns (a running
    VM's: only those from its running slices' end less tolerance_ns on), no earlier than
    now_ns; never where it has none."""
    out[:] = never
    for i in range(plan_vcpu.size):
        vm = vcpu_vm[plan_vcpu[i]]
        cutoff = run_until[vm] - tolerance_ns if running_vcpus[vm] > 0 else -never
        start = plan_start_ns[i]
        if start < now_ns + horizon_ns and start >= cutoff and start < out[vm]:
            out[vm] = start
    for vm in range(out.size):
        if out[vm] < never:
            out[vm] = max(out[vm], now_ns)
