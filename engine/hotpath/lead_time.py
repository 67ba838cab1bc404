"""Compiled lead times of `predictive`'s restore reads (engine/policies/device_lead.py): how
long a restore of n pages takes to land, and the largest restore that lands within a given
time. The search for the latter tries a hundred or more sizes per call, several calls per
step, so it runs here on plain integers rather than through Python method calls; the
arithmetic is the device model's (SwapDevice.service_ns for reads), step for step.

Every argument is a device figure or the backlog device_lead caches per step:
first_ns (until the first prefetch lane is free), busy_sum_ns (device time left in service
on those lanes), n_busy (operations in service), n_queued / queued_pages (operations and
pages queued in the same or higher classes). Values stay far below 2**63 as long as the
times are below MAX_WITHIN_NS; device_lead keeps larger ones on Python integers."""

from __future__ import annotations

from numba import njit

# Longest time (about 69 s) the compiled search takes: budget × lanes, the pages that fit
# in it and their transfer times stay well inside int64 below it.
MAX_WITHIN_NS = 1 << 36
# Most pages the upward search goes to (as device_lead's).
MAX_PAGES = 1 << 30


@njit(cache=True, nogil=True)
def read_service_ns(n_pages: int, sharers: int, latency_ns: int, page_ns: int, op_ns: int) -> int:
    """SwapDevice.service_ns of a read of n_pages sharing the device with sharers - 1."""
    return max(latency_ns + sharers * n_pages * page_ns, sharers * op_ns)


@njit(cache=True, nogil=True)
def restore_lead_ns(
    n_pages: int,
    first_ns: int,
    busy_sum_ns: int,
    n_busy: int,
    n_queued: int,
    queued_pages: int,
    channels: int,
    latency_ns: int,
    page_ns: int,
    op_ns: int,
    batch: int,
    lanes: int,
    shared_step_ns: int,
    margin_ns: int,
) -> int:
    """DeviceLeadTime.lead_ns: the work queued ahead and the restore's own, over the lanes
    prefetches use; shared_step_ns > 0 rounds an operation's service up to whole steps (a
    lane a pCPU reads from takes queued work only at step boundaries), 0 leaves it."""
    if n_pages <= 0:
        return 0
    n_ops = -(-n_pages // batch)
    # The work ahead (DeviceLeadTime._ahead).
    sharers_q = min(channels, n_busy + n_queued + n_ops)
    ahead = busy_sum_ns + n_queued * latency_ns + sharers_q * queued_pages * page_ns
    sharers = min(channels, n_busy + n_queued + n_ops)
    service = read_service_ns(min(n_pages, batch), sharers, latency_ns, page_ns, op_ns)
    if shared_step_ns > 0:
        service = -(-service // shared_step_ns) * shared_step_ns
    last = read_service_ns(n_pages - (n_ops - 1) * batch, sharers, latency_ns, page_ns, op_ns)
    own = (n_ops - 1) * service + last
    return max(first_ns + service, (ahead + own) // lanes) + margin_ns


@njit(cache=True, nogil=True)
def deliverable_pages(
    within_ns: int,
    first_ns: int,
    busy_sum_ns: int,
    n_busy: int,
    n_queued: int,
    queued_pages: int,
    channels: int,
    latency_ns: int,
    page_ns: int,
    op_ns: int,
    batch: int,
    lanes: int,
    shared_step_ns: int,
    margin_ns: int,
) -> int:
    """DeviceLeadTime.deliverable: pages a restore issued now can have landed within
    within_ns (below MAX_WITHIN_NS): lead time inverted in closed form, then the same
    downward and upward steps as device_lead's search."""
    args = (
        first_ns,
        busy_sum_ns,
        n_busy,
        n_queued,
        queued_pages,
        channels,
        latency_ns,
        page_ns,
        op_ns,
        batch,
        lanes,
        shared_step_ns,
        margin_ns,
    )
    budget = within_ns - margin_ns
    if restore_lead_ns(1, *args) > within_ns:
        return 0
    sharers = min(channels, n_busy + n_queued + lanes)
    ahead = busy_sum_ns + n_queued * latency_ns + sharers * queued_pages * page_ns
    sharers_ahead = n_busy + n_queued
    per_op = read_service_ns(batch, min(sharers_ahead, lanes), latency_ns, page_ns, op_ns)
    whole = max(0, budget * lanes - ahead) // per_op
    one = max(0, budget - first_ns - latency_ns) // page_ns
    n = max(whole * batch, min(one, batch), 1)
    while n > 1 and restore_lead_ns(n, *args) > within_ns:
        n -= max(1, n // 64)
    step = max(1, n // 64)
    while restore_lead_ns(n + step, *args) <= within_ns and n < MAX_PAGES:
        n += step
    return n
