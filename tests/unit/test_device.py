"""The swap device: service times, lanes, priorities, and the device presets."""

from __future__ import annotations

import numpy as np

from engine.device import BACKGROUND_WRITE, PREFETCH_READ, WRITE_TO_FREE, Op, SwapDevice
from engine.presets import DEVICE_PRESETS


def _dev(channels: int = 4, pcpus: int = 2) -> SwapDevice:
    return SwapDevice(
        latency_us=100.0,
        bandwidth_mbps=4096.0 * channels / 1000 * 1000 / 1000,
        channels=channels,
        page_bytes=4096,
        pcpus=pcpus,
    )


def test_service_time_is_latency_plus_transfer():
    """An op of n pages takes latency + n × page / (bandwidth / channels)."""
    d = SwapDevice(latency_us=80.0, bandwidth_mbps=3500.0, channels=32, page_bytes=4096, pcpus=4)
    per_page = 4096 / (3500e6 / 32) * 1e9
    assert abs(d.page_transfer_ns - per_page) <= 1
    assert d.service_ns(8) == 80_000 + 8 * d.page_transfer_ns


def test_demand_reads_queue_on_their_lane():
    """Two reads on one pCPU's lane run one after the other; another pCPU's lane is free."""
    d = _dev()
    a = d.demand_read(0, 0, 1)
    b = d.demand_read(0, 0, 1)
    c = d.demand_read(1, 0, 1)
    assert b == 2 * a and c == a


def test_background_work_prefers_lanes_no_pcpu_reads_from():
    """Queued writes go to spare lanes first, so demand lanes stay free."""
    d = _dev(channels=4, pcpus=2)
    for _ in range(2):
        d.submit(Op(BACKGROUND_WRITE, 0, np.arange(4), 0))
    d.dispatch(0, 1_000_000)
    assert d.busy_until[0] == 0 and d.busy_until[1] == 0
    assert d.busy_until[2] > 0


def test_priority_order_of_queued_classes():
    """Write-to-free goes before prefetch, which goes before background writes."""
    d = _dev(channels=1, pcpus=1)
    order = []
    for cls in (BACKGROUND_WRITE, PREFETCH_READ, WRITE_TO_FREE):
        d.submit(Op(cls, 0, np.arange(1), 0))
    for t in range(3):
        now = int(d.busy_until[0])
        d.dispatch(now, now + 10**9)
        order.append(d.in_flight[-1][2].cls if d.in_flight else None)
        d.pop_completed(int(d.busy_until[0]))
        assert t < 3
    assert order == [WRITE_TO_FREE, PREFETCH_READ, BACKGROUND_WRITE]


def test_shared_lane_takes_one_op_only_when_idle():
    """A lane a pCPU reads from takes queued work only while idle: a demand read waits for
    at most the one op in service."""
    d = _dev(channels=1, pcpus=1)
    for _ in range(3):
        d.submit(Op(BACKGROUND_WRITE, 0, np.arange(1), 0))
    d.dispatch(0, 10**9)
    assert len(d.in_flight) == 1 and d.queued_ops() == 2


def test_presets_are_complete_and_sourced():
    """Every preset has positive figures and names its source."""
    assert {"hdd-7200", "sata-ssd", "nvme-ssd", "optane", "rdma-far-memory", "zram-lz4"} <= set(
        DEVICE_PRESETS
    )
    for p in DEVICE_PRESETS.values():
        assert p.latency_us > 0 and p.bandwidth_mbps > 0 and p.channels >= 1 and p.source


def test_hdd_is_much_slower_than_nvme():
    """Scale for intuition: an HDD read takes ~150x an NVMe read."""
    hdd, nvme = DEVICE_PRESETS["hdd-7200"], DEVICE_PRESETS["nvme-ssd"]
    assert hdd.latency_us / nvme.latency_us > 100
