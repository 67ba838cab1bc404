"""A step's pCPUs in one compiled call, after a boundary Python made (a policy with a step
hook): each pCPU's running vCPU runs one window of references with `kernels.run_references`,
exactly the window `window.run_window` would hand it, and the call goes on to the next pCPU
while a window takes its vCPU to the end of the step within its slice. The first pCPU that
needs Python (no vCPU running, a reference for step_one, a slice, burst or window that
ended) stops the call; Python books what ran and goes on there (engine.compiled_pcpus).

A call runs at most CHUNK pCPUs, each with its references in an argument of its own: the
vCPUs' streams as they are (views), with no copy into one array (a copy of each window and of
the fault read's references ahead of it cost as much as the trips through Python it saves).

Only for runs whose kernel never reclaims nor collects touched pages: the scalars are then
each call's own but for the four the pool and paging keep, as run_window sets them.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.hotpath.kernels import clear_marks, run_references
from engine.hotpath.slots import (
    D_CPU_NS,
    D_FAULT_CPU_NS,
    D_MAJOR,
    D_MINOR,
    D_POLLUTION,
    D_PREFETCH_ISSUED,
    D_PREFETCH_USED,
    D_READAHEAD,
    D_REFERENCES,
    D_STALL_NS,
    D_SWAP_IN,
    GO_ON,
    N_SCALARS,
    S_LIST_END,
    S_WRITING_PENDING,
)

CHUNK = 4  # pCPUs one call may run (its references are CHUNK arguments)

# Columns of a pCPU's row of the window table (int64): its vCPU's VM, the VM's first page and
# past its last, cpu_ns, burst left, device lane, the time it starts at, its window's length
# (its references ahead run further for a fault read that scans past them), the fault read's
# references scanned and most pages, 1 where Python decides a major fault, the slice's end,
# 1 where the pCPU may run here (a vCPU running with time, burst and stream left).
W_VM, W_VM_LO, W_VM_HI, W_CPU_NS, W_BURST_NS, W_LANE, W_START_NS, W_WINDOW = range(8)
W_SCAN_REFS, W_SCAN_PAGES, W_PYTHON_ON_MAJOR, W_SLICE_END_NS, W_READY = range(8, 13)
N_WINDOW_COLUMNS = 13

# Columns of a pCPU's outcome: references done, the time it stopped at, and why; with collect,
# the distinct pages it touched and those it major-faulted (in its part of touched and majors).
O_DONE, O_TIME_NS, O_WHY, O_TOUCHED, O_MAJORS = range(5)
N_OUTCOME_COLUMNS = 5


@njit(cache=True, nogil=True)
def run_pcpus(
    p_from: int,
    p_to: int,
    step_end_ns: int,
    minor_ns: int,
    table: np.ndarray,
    outcome: np.ndarray,
    ahead0: np.ndarray,
    ahead1: np.ndarray,
    ahead2: np.ndarray,
    ahead3: np.ndarray,
    writes0: np.ndarray,
    writes1: np.ndarray,
    writes2: np.ndarray,
    writes3: np.ndarray,
    ra_cluster: np.ndarray,
    state: np.ndarray,
    last_use_ns: np.ndarray,
    load_ns: np.ndarray,
    ref_bit: np.ndarray,
    evicted_for_prefetch: np.ndarray,
    scalars: np.ndarray,
    delta: np.ndarray,
    references: np.ndarray,
    cpu_ns: np.ndarray,
    minor_faults: np.ndarray,
    fault_cpu_ns: np.ndarray,
    prefetch_used: np.ndarray,
    major_faults: np.ndarray,
    stall_ns: np.ndarray,
    swap_in_pages: np.ndarray,
    readahead_pages: np.ndarray,
    prefetch_issued: np.ndarray,
    pollution_faults: np.ndarray,
    device: np.ndarray,
    busy_until: np.ndarray,
    boundary_busy: np.ndarray,
    collect: bool,
    mark: np.ndarray,
    touched: np.ndarray,
    majors: np.ndarray,
    counts: np.ndarray,
    reclaim: np.ndarray,
    kept_pages: np.ndarray,
    kept_keys: np.ndarray,
    list_pages: np.ndarray,
    list_keys: np.ndarray,
    keys_now: np.ndarray,
    vm_of: np.ndarray,
    wasted: np.ndarray,
    refused: np.ndarray,
    victims: np.ndarray,
    ops: np.ndarray,
    op_pages: np.ndarray,
    fault_rows: np.ndarray,
    fault_config: np.ndarray,
) -> int:
    """Run pCPUs p_from, p_from + 1, ... before p_to (at most CHUNK), each one window (see
    the module's docstring); returns the first that needs Python (p_to: none). pCPU
    p_from + k's references ahead (its window and more) are ahead<k>, their write flags
    writes<k>. outcome's rows say what each pCPU run here did, that one's included where its
    row was ready. Each run's counters (slots.DELTA_COUNTERS, in delta) are added to its VM's
    (the arrays after delta), as run_window books them. With collect, pCPU p_from + k's
    pages for the policy's after_run are in touched and majors from k * (their size / CHUNK)
    on (mark left all False); Python hands them over in pCPU order, each VM's pages as its
    run left them, as the pCPUs of one call run vCPUs of different VMs."""
    for p in range(p_from, p_to):
        k = p - p_from
        if k == 0:
            ahead, writes = ahead0, writes0
        elif k == 1:
            ahead, writes = ahead1, writes1
        elif k == 2:
            ahead, writes = ahead2, writes2
        else:
            ahead, writes = ahead3, writes3
        if table[p, W_READY] == 0:
            return p
        for slot in range(S_WRITING_PENDING + 1, N_SCALARS):  # run_window's zeroed slots
            scalars[slot] = 0
        scalars[S_LIST_END] = -1
        delta[:] = 0
        counts[:] = 0
        part = touched.size // CHUNK
        its_touched = touched[k * part : (k + 1) * part]
        its_majors = majors[k * part : (k + 1) * part]
        vm, w = table[p, W_VM], table[p, W_WINDOW]
        n, t, why = run_references(
            ahead[:w], writes[:w], table[p, W_VM_LO], table[p, W_VM_HI],
            table[p, W_CPU_NS], table[p, W_START_NS], min(step_end_ns, table[p, W_SLICE_END_NS]),
            table[p, W_BURST_NS], minor_ns, ra_cluster[vm], table[p, W_PYTHON_ON_MAJOR] != 0,
            ahead, table[p, W_SCAN_REFS], table[p, W_SCAN_PAGES], state, last_use_ns,
            load_ns, ref_bit, evicted_for_prefetch, scalars, delta, device, busy_until,
            boundary_busy, table[p, W_LANE], collect, mark, its_touched, its_majors, counts,
            reclaim, kept_pages, kept_keys, list_pages, list_keys, keys_now, vm_of, wasted,
            refused, victims, ops, op_pages, fault_rows, fault_config, vm, prefetch_used[vm],
        )  # fmt: skip
        outcome[p, O_DONE], outcome[p, O_TIME_NS], outcome[p, O_WHY] = n, t, why
        outcome[p, O_TOUCHED], outcome[p, O_MAJORS] = counts[0], counts[1]
        if collect:
            clear_marks(mark, its_touched, counts[0])
        references[vm] += delta[D_REFERENCES]
        cpu_ns[vm] += delta[D_CPU_NS]
        minor_faults[vm] += delta[D_MINOR]
        fault_cpu_ns[vm] += delta[D_FAULT_CPU_NS]
        prefetch_used[vm] += delta[D_PREFETCH_USED]
        major_faults[vm] += delta[D_MAJOR]
        stall_ns[vm] += delta[D_STALL_NS]
        swap_in_pages[vm] += delta[D_SWAP_IN]
        readahead_pages[vm] += delta[D_READAHEAD]
        prefetch_issued[vm] += delta[D_PREFETCH_ISSUED]
        pollution_faults[vm] += delta[D_POLLUTION]
        # run_fast would return (t, RAN_TO_END) and _run_pcpu keep the slice going: done here.
        if not (why == GO_ON and t >= step_end_ns and t < table[p, W_SLICE_END_NS]):
            return p
    return p_to
