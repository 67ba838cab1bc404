"""`predictive`'s touch stamps after a run of references, compiled: each page touched gets its
VM's own time at its last use and the bit of the current period, and readahead that landed in
this period with a fault counts as used when it landed.

The same stamps as the numpy statement in `WorkingSets.after_run_reference` (five fancy-index
passes and a readahead cluster built as a 2-D array: ~38 µs a call, ~6,600 calls on
nvme_8vm_2x, a run touching ~730 pages on average)."""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.pool import PREFETCHED


@njit(cache=True, nogil=True)
def stamp_touches(
    pages: np.ndarray, major_pages: np.ndarray, history: np.ndarray, touch_vns: np.ndarray,
    touch_ns: np.ndarray, last_use_ns: np.ndarray, state: np.ndarray, load_ns: np.ndarray,
    start_ns: int, vm_time: int, cluster: int, vm_lo: int, vm_hi: int, recent: np.ndarray,
) -> None:  # fmt: skip
    """Stamp the pages a VM's run touched (in its period begun at start_ns, when the VM's own
    clock read vm_time): bit 0 of history, the VM time and host time of their last use, and
    their byte in `recent` (the shadow LRU's next step reads their touch times). With
    cluster > 0, each major fault's aligned cluster of `cluster` pages within the VM's
    [vm_lo, vm_hi): its pages still prefetched and loaded in this period are stamped with
    their VM time at load."""
    for i in range(pages.size):
        p = pages[i]
        history[p] |= np.uint32(1)
        used = last_use_ns[p]
        touch_vns[p] = vm_time + (used - start_ns)
        touch_ns[p] = used
        recent[p] = 1
    if cluster <= 0:
        return
    for i in range(major_pages.size):
        lo = vm_lo + (major_pages[i] - vm_lo) // cluster * cluster
        for p in range(lo, min(lo + cluster, vm_hi)):
            if state[p] == PREFETCHED and load_ns[p] >= start_ns:
                touch_vns[p] = vm_time + (load_ns[p] - start_ns)
