"""A policy's own fault read made inside the compiled executor from per-VM rows of integers:
Leap's trend (engine.hotpath.trend_fault) or Linux's adaptive window
(engine.hotpath.adaptive_fault), which the policy's readable `fault_prefetch` keeps in the same
rows. The pages read along are those `Machine.fault_extra_pages` keeps of the policy's answer,
capped as the executor caps them; the device time is the read's (stream_fault.read_along). The
policy contract's tests compare the two executors on every figure.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.hotpath.adaptive_fault import window_pages
from engine.hotpath.row_config import C_KIND, C_MAX_WINDOW, ROW_LEAP
from engine.hotpath.stream_fault import read_along
from engine.hotpath.trend_fault import trend_pages
from engine.page_states import PREFETCHED, SWAPPED


@njit(cache=True, nogil=True)
def read_row_ahead(
    row: np.ndarray,
    config: np.ndarray,
    page: int,
    used: int,
    vm_lo: int,
    vm_hi: int,
    room: int,
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
    """Read page (faulted) with the pages the policy asks for that are the VM's own, swapped
    and not page itself, in its order, at most `room` of them. `used`: the VM's prefetched
    pages used so far. Returns (when the read ends, how many came along, the read's service
    time)."""
    extra = np.empty(max(1, config[C_MAX_WINDOW]), dtype=np.int64)
    if config[C_KIND] == ROW_LEAP:
        n_asked = trend_pages(row, config, page, used, vm_lo, extra)
    else:
        n_asked = window_pages(row, config, page, used, vm_lo, extra)
    n_extra = 0
    for i in range(n_asked):  # (the pages asked for are distinct: each is taken once)
        if n_extra >= room:
            break
        g = extra[i]
        if vm_lo <= g < vm_hi and g != page and state[g] == SWAPPED:
            state[g] = PREFETCHED
            extra[n_extra] = g
            n_extra += 1
    return read_along(
        extra, n_extra, last_use_ns, load_ns, ref_bit, device, busy_until, boundary_busy, lane,
        t, delta,
    )  # fmt: skip
