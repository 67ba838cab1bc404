"""Swap-device presets (4 KiB random access) with the sources of their figures (DESIGN.md §2)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DevicePreset:
    """Per-operation latency, total bandwidth and parallel channels (queue depth) of one device."""

    name: str
    latency_us: float
    bandwidth_mbps: float
    channels: int
    source: str


DEVICE_PRESETS: dict[str, DevicePreset] = {
    p.name: p
    for p in (
        DevicePreset(
            "hdd-7200",
            12_000.0,
            150.0,
            1,
            "WD Ultrastar HC310: seek 7.4-8.2 ms + 4.16 ms rotation, ~150 MB/s",
        ),
        DevicePreset("sata-ssd", 80.0, 550.0, 8, "vendor figures: 50-100 µs, ~550 MB/s"),
        DevicePreset(
            "nvme-ssd",
            80.0,
            3500.0,
            32,
            "AnandTech 11209: Intel P3700 77.9 µs at QD1, 3.5 GB/s",
        ),
        DevicePreset(
            "optane",
            8.9,
            2400.0,
            16,
            "AnandTech 11209/11930: 8.9 µs QD1, 2.4 GB/s read",
        ),
        DevicePreset(
            "rdma-far-memory",
            4.0,
            10000.0,
            16,
            "Leap, Infiniswap: 3-5 µs raw, 7-12 GB/s",
        ),
        DevicePreset("zram-lz4", 1.7, 8480.0, 8, "zram measurements: lz4 1.7 µs, ~7.9 GiB/s"),
    )
}
