"""A major fault that reads, with the faulting page, the next swapped pages of the faulting
vCPU's own stream (the oracle's clairvoyant readahead), made inside the compiled executor.

It is `Oracle.fault_prefetch` plus `Machine.major_fault_bookkeeping`'s readahead part, for a
VM with one vCPU (whose stream is then the only one to look at): the same pages, in the same
order, the same device time. Computing it here spares a return to Python per major fault.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.hotpath.device_time import demand_service_ns
from engine.hotpath.slots import D_PREFETCH_ISSUED, D_READAHEAD
from engine.page_states import PREFETCHED, SWAPPED


@njit(cache=True, nogil=True)
def read_stream_ahead(
    ahead: np.ndarray,
    n: int,
    scan_refs: int,
    most: int,
    vm_lo: int,
    page: int,
    state: np.ndarray,
    last_use_ns: np.ndarray,
    load_ns: np.ndarray,
    ref_bit: np.ndarray,
    device: np.ndarray,
    busy_until: np.ndarray,
    boundary_busy: np.ndarray,
    lane: int,
    t: int,
    delta: np.ndarray,
) -> tuple[int, int, int]:
    """Read page (the reference ahead[n], relative to vm_lo, faulted) with the first `most`
    distinct swapped pages other than itself that references ahead[n : n + scan_refs] use,
    in the order they are first used. They come in as PREFETCHED when the read ends.
    Returns (when the read ends, how many pages came along, the read's service time); the
    device's read statistics are the caller's to book (the kernel keeps them in locals)."""
    extra = np.empty(max(0, most), dtype=np.int64)
    n_extra = 0
    for i in range(n, min(n + scan_refs, ahead.size)):
        if n_extra >= extra.size:
            break
        g = vm_lo + ahead[i]
        # A page taken already is PREFETCHED now, no longer SWAPPED: each is taken once.
        if g != page and state[g] == SWAPPED:
            state[g] = PREFETCHED
            extra[n_extra] = g
            n_extra += 1
    return read_along(
        extra, n_extra, last_use_ns, load_ns, ref_bit, device, busy_until, boundary_busy, lane,
        t, delta,
    )  # fmt: skip


@njit(cache=True, nogil=True)
def read_along(
    extra: np.ndarray,
    n_extra: int,
    last_use_ns: np.ndarray,
    load_ns: np.ndarray,
    ref_bit: np.ndarray,
    device: np.ndarray,
    busy_until: np.ndarray,
    boundary_busy: np.ndarray,
    lane: int,
    t: int,
    delta: np.ndarray,
) -> tuple[int, int, int]:
    """A major fault's read on `lane` from t, with extra[:n_extra] (marked PREFETCHED by the
    caller) read along, as `Machine.major_fault_bookkeeping` books them: they come in as
    prefetched pages, untouched, when the read ends. Returns (when the read ends, n_extra,
    the read's service time)."""
    start = max(t, busy_until[lane])
    service = demand_service_ns(device, boundary_busy, lane, start, 1 + n_extra)
    done = start + service
    busy_until[lane] = done
    for j in range(n_extra):
        g = extra[j]
        load_ns[g] = done
        last_use_ns[g] = done
        ref_bit[g] = False
    delta[D_READAHEAD] += n_extra
    delta[D_PREFETCH_ISSUED] += n_extra
    return done, n_extra, service
