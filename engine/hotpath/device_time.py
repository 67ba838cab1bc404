"""Device time in the compiled hot path: a demand read on its pCPU's lane and a write started
at once on the lane free earliest, as `engine.device.SwapDevice` computes them when no fault is
injected (a change there is a change here)."""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.hotpath.slots import (
    V_BUSY_NS,
    V_DEMAND_OPS,
    V_LATENCY_NS,
    V_OP_NS,
    V_OPS_DONE,
    V_PAGE_NS,
    V_PAGES_DONE,
    V_SEQ,
    V_WRITE_BUSY_NS,
    V_WRITE_OP_NS,
    V_WRITE_PAGE_NS,
)


@njit(cache=True, nogil=True)
def demand_read_ns(
    device: np.ndarray,
    busy_until: np.ndarray,
    boundary_busy: np.ndarray,
    lane: int,
    now_ns: int,
    n_pages: int,
) -> int:
    """SwapDevice.demand_read without injected faults: the read starts when the pCPU's lane
    is free, shares the device with what was in service at the last boundary, and ends at the
    returned time."""
    start = max(now_ns, busy_until[lane])
    service = demand_service_ns(device, boundary_busy, lane, start, n_pages)
    done = start + service
    busy_until[lane] = done
    device[V_PAGES_DONE] += n_pages
    device[V_BUSY_NS] += service
    device[V_OPS_DONE] += 1
    device[V_DEMAND_OPS] += 1
    return done


@njit(cache=True, nogil=True)
def demand_service_ns(
    device: np.ndarray, boundary_busy: np.ndarray, lane: int, start_ns: int, n_pages: int
) -> int:
    """The service time of a demand read of n_pages starting at start_ns on its pCPU's lane:
    its latency and transfer, shared with what was in service at the last boundary. (Apart
    from demand_read_ns so the per-reference kernel can keep the statistics in registers.)"""
    sharers = 1
    for other in range(boundary_busy.size):
        if other != lane and boundary_busy[other] > start_ns:
            sharers += 1
    return max(
        device[V_LATENCY_NS] + sharers * n_pages * device[V_PAGE_NS], sharers * device[V_OP_NS]
    )


@njit(cache=True, nogil=True)
def start_write(
    pages: np.ndarray,
    lo: int,
    hi: int,
    now_ns: int,
    busy_until: np.ndarray,
    device: np.ndarray,
) -> tuple[int, int, int, int]:
    """SwapDevice.start_now of a write of pages[lo:hi] without injected faults: on the lane
    free earliest, sharing the device with what is in service when it starts. Returns
    (lane, start, done, seq)."""
    lane = 0
    for other in range(1, busy_until.size):
        if busy_until[other] < busy_until[lane]:
            lane = other
    start = max(now_ns, busy_until[lane])
    sharers = 1
    for other in range(busy_until.size):
        if other != lane and busy_until[other] > start:
            sharers += 1
    n_pages = hi - lo
    service = max(
        device[V_LATENCY_NS] + sharers * n_pages * device[V_WRITE_PAGE_NS],
        sharers * device[V_WRITE_OP_NS],
    )
    busy_until[lane] = start + service
    device[V_WRITE_BUSY_NS] += service
    seq = device[V_SEQ]
    device[V_SEQ] += 1
    return lane, start, start + service, seq
