"""Swap-device presets: each states the published figures it is calibrated to, with sources.

A preset states what a datasheet or review measured, not model parameters: the whole 4 KiB
random read at queue depth 1 (transfer included), 4 KiB random-read IOPS at high queue depth,
sequential read bandwidth, and the write figures where they differ. `engine.device` derives
its per-operation latency from them (`latency_us`), and `tests/unit/test_device.py` drives the
device model with streams like the ones measured and checks each figure within 10 %.
"""

from __future__ import annotations

from dataclasses import dataclass

PAGE_4K = 4096


@dataclass(frozen=True)
class DevicePreset:
    """One device's published figures, its queue depth (channels) and where the figures are from.

    `read_iops` / `write_iops` of None: no IOPS figure is published; the device is then
    limited by its bandwidth alone. `write_mbps` of None: writes as fast as reads."""

    name: str
    qd1_read_us: float  # a whole 4 KiB random read at queue depth 1, transfer included
    read_iops: float | None  # 4 KiB random reads per second at high queue depth
    bandwidth_mbps: float  # sequential read, MB/s (10^6 bytes)
    channels: int  # operations served in parallel: the queue depth the IOPS figure needs
    source: str
    write_mbps: float | None = None
    write_iops: float | None = None

    @property
    def latency_us(self) -> float:
        """Per-operation latency: the QD1 read less its own 4 KiB transfer at the whole
        bandwidth, so a lone 4 KiB read takes exactly qd1_read_us."""
        return self.qd1_read_us - PAGE_4K / self.bandwidth_mbps


DEVICE_PRESETS: dict[str, DevicePreset] = {
    p.name: p
    for p in (
        DevicePreset(
            "hdd-7200",
            qd1_read_us=7_400.0 + 4_160.0 + PAGE_4K / 150.0,
            read_iops=None,
            bandwidth_mbps=150.0,
            channels=1,
            source=(
                "WD Ultrastar DC HC310 (Western Digital OEM specification rev 1.4, §4.5.1): "
                "average read seek 7.4 ms, average rotational latency 4.16 ms (7,200 RPM); "
                "write seek 8.2 ms. Sequential ~150 MB/s (DESIGN.md). No IOPS figure is "
                "published: no command reordering is modelled, so high-QD IOPS = 1 / QD1 read"
            ),
        ),
        DevicePreset(
            "sata-ssd",
            qd1_read_us=100.0,
            read_iops=98_000.0,
            bandwidth_mbps=540.0,
            channels=32,
            source=(
                "Samsung 850 EVO 1 TB, Samsung's specification: 4 KiB random read QD1 10,000 "
                "IOPS (100 µs), sequential read/write 540/520 MB/s (as listed by retailers); "
                "random read up to 98,000 IOPS (1 TB; 94K-98K by capacity) and write 90,000 "
                "IOPS at high QD (IDG News, Dec 2014). 32 channels: SATA NCQ's queue depth"
            ),
            write_mbps=520.0,
            write_iops=90_000.0,
        ),
        DevicePreset(
            "nvme-ssd",
            qd1_read_us=77.9,
            read_iops=460_000.0,
            bandwidth_mbps=2800.0,
            channels=128,
            source=(
                "Intel SSD DC P3700 800 GB: 4 KiB random read QD1 77.9 µs mean (AnandTech "
                "11209, 'Checking Intel's Numbers'); Intel P3700 product specification "
                "(330566): random 4 KiB read/write up to 460K/175K IOPS, sequential read/write "
                "up to 2,800/2,000 MB/s. 128 channels: the queue depth the IOPS need"
            ),
            write_mbps=2000.0,
            write_iops=175_000.0,
        ),
        DevicePreset(
            "optane",
            qd1_read_us=8.9,
            read_iops=550_000.0,
            bandwidth_mbps=2400.0,
            channels=128,
            source=(
                "Intel Optane SSD DC P4800X 375 GB: 4 KiB random read QD1 8.9 µs mean, "
                "specification 550K read IOPS (AnandTech 11209, 'Checking Intel's Numbers'); "
                "sequential read/write 2.4/2.0 GB/s, random write 500K IOPS (Intel product "
                "brief; AnandTech 11930)"
            ),
            write_mbps=2000.0,
            write_iops=500_000.0,
        ),
        DevicePreset(
            "rdma-far-memory",
            qd1_read_us=4.0,
            read_iops=None,
            bandwidth_mbps=10000.0,
            channels=128,
            source=(
                "Leap (USENIX ATC 2020), Infiniswap (NSDI 2017): 3-5 µs raw 4 KiB RDMA read, "
                "7-12 GB/s. No IOPS figure is published: bandwidth-limited"
            ),
        ),
        DevicePreset(
            "zram-lz4",
            qd1_read_us=1.7,
            read_iops=None,
            bandwidth_mbps=8480.0,
            channels=8,
            source=(
                "zram measurements: lz4 1.7 µs per 4 KiB page, ~7.9 GiB/s. No IOPS figure is "
                "published: bandwidth-limited (8 channels: the CPUs decompressing)"
            ),
        ),
    )
}


@dataclass(frozen=True)
class DeviceLimits:
    """What a device model needs besides latency, read bandwidth and channels."""

    read_iops: float | None = None
    write_mbps: float | None = None
    write_iops: float | None = None


def limits_of(preset: str, bandwidth_mbps: float) -> DeviceLimits:
    """A preset's IOPS and write figures (none for a custom device). A read bandwidth set
    over the preset's scales its write bandwidth alike."""
    p = DEVICE_PRESETS.get(preset)
    if p is None:
        return DeviceLimits()
    write = None if p.write_mbps is None else p.write_mbps * bandwidth_mbps / p.bandwidth_mbps
    return DeviceLimits(p.read_iops, write, p.write_iops)
