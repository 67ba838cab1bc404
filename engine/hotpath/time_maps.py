"""The oracle's time maps of many vCPUs in one compiled call: each vCPU's planned segments
(start, cumulative reference capacity) kept in flat arrays, one fixed run of slots per vCPU.

`planned_segments` (next_use.py) makes one vCPU's map per call and is the reference: the
same conditions and the same integer arithmetic, here in one pass over the plan for every
vCPU asked for. A vCPU can have at most one segment for its running slice plus one per
planned slice of its own, so `slot_offsets` gives each that many slots and the maps of
vCPUs made at different moments never overlap."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def slot_offsets(plan_vcpu: np.ndarray, n_vcpus: int) -> np.ndarray:
    """Where each vCPU's segments start in the flat arrays (n_vcpus + 1 offsets): one slot
    for the rest of a running slice and one per planned slice of that vCPU."""
    off = np.zeros(n_vcpus + 1, dtype=np.int64)
    for i in range(plan_vcpu.size):
        off[plan_vcpu[i] + 1] += 1
    for v in range(n_vcpus):
        off[v + 1] += off[v] + 1
    return off


@njit(cache=True, nogil=True)
def build_time_maps(
    want: np.ndarray,
    built: np.ndarray,
    now_ns: int,
    cpu_ns: np.ndarray,
    runs: np.ndarray,
    begin_ns: np.ndarray,
    end_ns: np.ndarray,
    tolerance_ns: int,
    plan_vcpu: np.ndarray,
    plan_start_ns: np.ndarray,
    plan_end_ns: np.ndarray,
    made_ns: int,
    slot_off: np.ndarray,
    seg_len: np.ndarray,
    starts: np.ndarray,
    cum: np.ndarray,
) -> None:
    """Make the maps of the vCPUs wanted and not yet built (and mark them built): vCPU v's
    segment starts and cumulative capacities go to starts/cum[slot_off[v]:][:seg_len[v]],
    each exactly `planned_segments`' for v (running v: runs[v], the rest of its slice
    [begin_ns[v], end_ns[v]))."""
    n = want.size
    make = np.zeros(n, dtype=np.bool_)
    after = np.empty(n, dtype=np.int64)
    overdue = np.empty(n, dtype=np.int64)
    for v in range(n):
        if not want[v] or built[v]:
            continue
        make[v] = True
        built[v] = True
        lo = slot_off[v]
        seg_len[v] = 0
        after[v] = now_ns
        if runs[v]:
            starts[lo] = begin_ns[v]
            cum[lo] = max(0, end_ns[v] - begin_ns[v]) // cpu_ns[v]
            seg_len[v] = 1
            after[v] = end_ns[v] - tolerance_ns
        overdue[v] = after[v] - (now_ns - made_ns)
    for i in range(plan_vcpu.size):
        v = plan_vcpu[i]
        if make[v] and plan_end_ns[i] > after[v] and plan_start_ns[i] >= overdue[v]:
            s = max(plan_start_ns[i], now_ns)
            j = slot_off[v] + seg_len[v]
            starts[j] = s
            cum[j] = max(0, plan_end_ns[i] - s) // cpu_ns[v]
            seg_len[v] += 1
    for v in range(n):
        if make[v]:
            lo = slot_off[v]
            for j in range(lo + 1, lo + seg_len[v]):  # capacities to their running sums
                cum[j] += cum[j - 1]


@njit(cache=True, nogil=True)
def measure_rates(
    references: np.ndarray,
    busy_ns: np.ndarray,
    last_refs: np.ndarray,
    last_busy: np.ndarray,
    vm_ns_per_ref: np.ndarray,
    vcpu_vm: np.ndarray,
    vcpu_cpu_ns: np.ndarray,
    ns_per_ref: np.ndarray,
) -> bool:
    """Each VM's time per reference from what it executed since the last call (half weight
    to the newest), and each vCPU's (never below its references' CPU cost, nor 1); the
    counters seen are kept for the next call. Whether any VM ran (else nothing changes)."""
    ran = False
    for vm in range(references.size):
        d_refs = references[vm] - last_refs[vm]
        d_busy = busy_ns[vm] - last_busy[vm]
        last_refs[vm] = references[vm]
        last_busy[vm] = busy_ns[vm]
        if d_refs > 0:
            ran = True
            rate = d_busy / d_refs
            old = vm_ns_per_ref[vm]
            vm_ns_per_ref[vm] = (old + rate) / 2 if old > 0 else rate
    if not ran:
        return False
    for v in range(vcpu_vm.size):
        ns_per_ref[v] = max(vcpu_cpu_ns[v], 1, round(vm_ns_per_ref[vcpu_vm[v]]))
    return True
