"""Device time in the compiled hot path: a demand read on its pCPU's lane, a write started at
once on the lane free earliest, and the queued operations a step boundary dispatches, as
`engine.device.SwapDevice` computes them when no fault is injected (a change there is a change
here)."""

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
def _service_ns(device: np.ndarray, n_pages: int, sharers: int, write: bool) -> int:
    """SwapDevice.service_ns."""
    if write:
        return max(
            device[V_LATENCY_NS] + sharers * n_pages * device[V_WRITE_PAGE_NS],
            sharers * device[V_WRITE_OP_NS],
        )
    return max(
        device[V_LATENCY_NS] + sharers * n_pages * device[V_PAGE_NS], sharers * device[V_OP_NS]
    )


@njit(cache=True, nogil=True)
def _start_on(
    device: np.ndarray,
    busy_until: np.ndarray,
    lane: int,
    start: int,
    n_pages: int,
    write: bool,
) -> int:
    """SwapDevice._start without injected faults: the operation shares the device with those
    in service on the other lanes when it starts. Returns its end."""
    sharers = 1
    for other in range(busy_until.size):
        if other != lane and busy_until[other] > start:
            sharers += 1
    done = start + _service_ns(device, n_pages, sharers, write)
    busy_until[lane] = done
    return done


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
    return _service_ns(device, n_pages, sharers, False)


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
    done = _start_on(device, busy_until, lane, start, hi - lo, True)
    device[V_WRITE_BUSY_NS] += done - start
    seq = device[V_SEQ]
    device[V_SEQ] += 1
    return lane, start, done, seq


@njit(cache=True, nogil=True)
def dispatch_queued(
    device: np.ndarray,
    busy_until: np.ndarray,
    spare_lanes: np.ndarray,
    demand_lanes: np.ndarray,
    now_ns: int,
    step_end_ns: int,
    issue_ns: np.ndarray,
    n_pages: np.ndarray,
    write: np.ndarray,
    more: bool,
    lane_out: np.ndarray,
    start_out: np.ndarray,
    done_out: np.ndarray,
) -> tuple[int, bool]:
    """SwapDevice.dispatch without injected faults, over the queued operations given (the
    next ones in the order they are taken; `more` if others follow them): spare lanes open
    before step_end take them back to back, the one free earliest first (ties to the lower
    rank), then each idle pCPU lane takes one. Returns (operations started, whether it asked
    for one more than it was given); called again with the next ones it goes on exactly as
    one call would, since the lanes' state is all it keeps."""
    n_ops = issue_ns.size
    i = 0
    while True:
        best = -1
        best_free = 0
        for rank in range(spare_lanes.size):
            busy = busy_until[spare_lanes[rank]]
            if busy < step_end_ns:
                free = max(busy, now_ns)
                if best < 0 or free < best_free:
                    best, best_free = rank, free
        if best < 0:
            break
        if i == n_ops:
            return i, True
        lane = spare_lanes[best]
        start = max(best_free, issue_ns[i])
        lane_out[i], start_out[i] = lane, start
        done_out[i] = _start_on(device, busy_until, lane, start, n_pages[i], write[i])
        i += 1
    if more and i == n_ops:
        return i, True  # the spare lanes are full; the next call goes on to the pCPU lanes
    for lane in demand_lanes:
        if busy_until[lane] <= now_ns:
            if i == n_ops:
                return i, True
            start = max(now_ns, issue_ns[i])
            lane_out[i], start_out[i] = lane, start
            done_out[i] = _start_on(device, busy_until, lane, start, n_pages[i], write[i])
            i += 1
    return i, False
