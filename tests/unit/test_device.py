"""The swap device: service times, lanes, priorities, and the device presets."""

from __future__ import annotations

import numpy as np
import pytest

from engine.device import BACKGROUND_WRITE, PREFETCH_READ, WRITE_TO_FREE, Op, SwapDevice
from engine.presets import DEVICE_PRESETS, DeviceLimits, limits_of


def _dev(channels: int = 4, pcpus: int = 2) -> SwapDevice:
    return SwapDevice(
        latency_us=100.0,
        bandwidth_mbps=4096.0 * channels / 1000 * 1000 / 1000,
        channels=channels,
        page_bytes=4096,
        pcpus=pcpus,
    )


def test_lone_op_gets_the_whole_bandwidth_and_shares_it_with_others():
    """An op alone takes latency + its bytes at the whole bandwidth; with k ops in service
    each gets bandwidth / k, and at least k / IOPS."""
    limits = DeviceLimits(read_iops=400_000.0)
    d = SwapDevice(80.0, 3500.0, 32, 4096, 4, limits=limits)
    per_page = 4096 / 3500e6 * 1e9
    assert abs(d.page_transfer_ns - per_page) <= 1
    assert d.service_ns(8) == 80_000 + 8 * d.page_transfer_ns
    assert d.service_ns(8, sharers=4) == 80_000 + 32 * d.page_transfer_ns
    assert d.service_ns(1, sharers=100) == 100 * 2_500  # the IOPS limit binds


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
    assert hdd.qd1_read_us / nvme.qd1_read_us > 100


# -- calibration: the model reproduces each preset's published figures within 10 % ------------

STEP_NS = 1_000_000


def _preset_device(name: str, pcpus: int = 1) -> SwapDevice:
    p = DEVICE_PRESETS[name]
    return SwapDevice(
        p.latency_us,
        p.bandwidth_mbps,
        p.channels,
        4096,
        pcpus,
        limits=limits_of(name, p.bandwidth_mbps),
    )


def _stream(dev: SwapDevice, n_ops: int, pages: int, cls: int) -> int:
    """Queue n_ops operations of `pages` pages at time 0 and dispatch them step by step as the
    simulation does; returns when the last one completes."""
    for i in range(n_ops):
        dev.submit(Op(cls, 0, np.arange(i * pages, (i + 1) * pages), 0))
    now, done, last = 0, 0, 0
    while done < n_ops:
        dev.dispatch(now, now + STEP_NS)
        now += STEP_NS
        finished = dev.pop_completed(now)
        done += len(finished)
        last = max([last, *(op.done_ns for op in finished)])
    return last


def _qd1_read_us(dev: SwapDevice) -> float:
    """Mean time of 4 KiB demand reads issued one after another (queue depth 1)."""
    t = 0
    for _ in range(200):
        t = dev.demand_read(0, t, 1)
    return t / 200 / 1000


@pytest.mark.parametrize("name", sorted(DEVICE_PRESETS))
def test_qd1_read_matches_the_published_figure(name):
    """A 4 KiB random read alone on the device takes the preset's QD1 figure (within 10 %)."""
    measured = _qd1_read_us(_preset_device(name))
    assert measured == pytest.approx(DEVICE_PRESETS[name].qd1_read_us, rel=0.10)


IOPS_FIGURES = [
    (name, cls, figure)
    for name, p in DEVICE_PRESETS.items()
    for cls, figure in ((PREFETCH_READ, p.read_iops), (BACKGROUND_WRITE, p.write_iops))
    if figure
]


@pytest.mark.parametrize(("name", "cls", "figure"), IOPS_FIGURES)
def test_high_queue_depth_iops_match_the_published_figure(name, cls, figure):
    """4 KiB random reads (writes) at the preset's queue depth complete at its read (write)
    IOPS figure, within 10 %."""
    dev = _preset_device(name)
    n_ops = 40 * dev.channels
    seconds = _stream(dev, n_ops, 1, cls) / 1e9
    assert n_ops / seconds == pytest.approx(figure, rel=0.10)


@pytest.mark.parametrize("name", sorted(DEVICE_PRESETS))
def test_sequential_bandwidth_matches_the_published_figure(name):
    """A large sequential stream (32 MiB operations at the preset's queue depth) moves the
    preset's sequential read bandwidth (within 10 %); writes their own where it differs."""
    p = DEVICE_PRESETS[name]
    pages = 8192
    for cls, figure in ((PREFETCH_READ, p.bandwidth_mbps), (BACKGROUND_WRITE, p.write_mbps)):
        dev = _preset_device(name)
        n_ops = 4 * dev.channels
        seconds = _stream(dev, n_ops, pages, cls) / 1e9
        mbps = n_ops * pages * 4096 / seconds / 1e6
        assert mbps == pytest.approx(figure or p.bandwidth_mbps, rel=0.10)


def test_hdd_keeps_seek_plus_rotation():
    """The HDD's per-operation latency is its average seek plus half a rotation."""
    assert DEVICE_PRESETS["hdd-7200"].latency_us == pytest.approx(7_400 + 4_160)


def test_demand_read_shares_the_device_with_what_the_boundary_left_in_service():
    """A demand read that starts while background ops are in service gets a share of the
    bandwidth; once they have ended it gets all of it."""
    dev = SwapDevice(10.0, 1000.0, 4, 4096, 1)
    for i in range(3):
        dev.submit(Op(PREFETCH_READ, 0, np.arange(i * 8, i * 8 + 8), 0))
    dev.dispatch(0, 1)  # three ops on the three spare lanes, in service past the boundary
    sharers, change = dev.demand_sharers(0, 0)
    assert sharers == 4 and change == int(dev.busy_until[1:].min())
    shared = dev.demand_read(0, 0, 1)
    end = int(dev.busy_until[1:].max())
    alone = dev.demand_read(0, end, 1) - end
    assert shared == dev.service_ns(1, 4) and alone == dev.service_ns(1, 1) < shared


def _queued_device(seed: int, compiled: bool) -> tuple[SwapDevice, list[Op]]:
    """A device of 8 lanes (2 read by pCPUs) with lanes busy at random and 150 operations of
    every queued class queued (some cancelled, some issued later), more than one compiled
    batch."""
    rng = np.random.default_rng(seed)
    dev = SwapDevice(20.0, 2000.0, 8, 4096, 2, limits=DeviceLimits(write_iops=100_000.0))
    dev.compiled_dispatch = compiled
    dev.busy_until[:] = rng.integers(0, 400_000, size=8)
    ops = []
    for i in range(150):
        cls = int(rng.choice([WRITE_TO_FREE, PREFETCH_READ, BACKGROUND_WRITE]))
        pages = np.arange(int(rng.integers(1, 33)))
        op = Op(cls, i % 3, pages, int(rng.integers(0, 300_000)))
        op.cancelled = bool(rng.random() < 0.2) and cls == PREFETCH_READ
        dev.submit(op)
        ops.append(op)
    return dev, ops


@pytest.mark.parametrize("seed", range(6))
def test_compiled_dispatch_starts_what_the_python_one_starts(seed):
    """The compiled dispatch starts the same operations on the same lanes at the same times,
    and leaves the same queues, as the Python one (_start per operation)."""
    for now, end in ((0, 1_000_000), (200_000, 250_000), (500_000, 5_000_000)):
        py, py_ops = _queued_device(seed, compiled=False)
        nb, nb_ops = _queued_device(seed, compiled=True)
        py.dispatch(now, end)
        nb.dispatch(now, end)
        assert [(o.lane, o.start_ns, o.done_ns) for o in nb_ops] == [
            (o.lane, o.start_ns, o.done_ns) for o in py_ops
        ]
        assert any(o.start_ns >= 0 for o in nb_ops)
        assert [[o.seq for o in q] for q in nb.queues] == [[o.seq for o in q] for q in py.queues]
        assert [(d, s) for d, s, _ in nb.in_flight] == [(d, s) for d, s, _ in py.in_flight]
        assert nb.busy_until.tolist() == py.busy_until.tolist()
        assert nb.boundary_busy.tolist() == py.boundary_busy.tolist()
        assert nb.busy_ns.tolist() == py.busy_ns.tolist()
