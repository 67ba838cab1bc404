"""Per-VM counters and the summary metrics of DESIGN.md §2 derived from them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

COUNTERS = (
    "references",
    "minor_faults",
    "major_faults",
    "stall_ns",  # waiting on memory: demand reads, late prefetches, reclaim, throttling
    "fault_cpu_ns",  # CPU spent zero-filling first touches
    "cpu_ns",  # useful CPU: references times their cost
    "run_ns",  # time holding a pCPU
    "wait_ns",  # runnable but not running
    "swap_in_pages",  # demand reads and readahead
    "swap_out_pages",  # pages a finished, successful write left on swap (evicted or cleaned)
    "prefetch_issued",
    "prefetch_used",  # prefetched (or read ahead) pages touched before eviction
    "prefetch_late",  # touched while the prefetch was still in flight
    "prefetch_wasted",  # evicted untouched
    "readahead_pages",
    "pollution_faults",  # major faults on pages evicted to make room for prefetches
    "gating_delay_ns",
    "gated_dispatches",
    "dispatches",
    "planned_dispatches",  # dispatches the previous plan predicted (same vCPU, ±tolerance)
    "swap_full_stalls",  # times a vCPU found nothing to evict and nothing in flight
    # Injected faults (engine.faults), booked to the VM whose operation met them.
    "read_retries",  # failed swap read attempts: demand reads retry, prefetches give up
    "write_failed_pages",  # pages of failed swap writes: they stay resident and dirty
    "latency_spikes",  # device operations that took an injected latency spike
    "swap_full_refused_pages",  # dirty pages a write could not take: no free swap slot
)


class Counters:
    """One int64 array per counter, indexed by VM."""

    references: np.ndarray
    minor_faults: np.ndarray
    major_faults: np.ndarray
    stall_ns: np.ndarray
    fault_cpu_ns: np.ndarray
    cpu_ns: np.ndarray
    run_ns: np.ndarray
    wait_ns: np.ndarray
    swap_in_pages: np.ndarray
    swap_out_pages: np.ndarray
    prefetch_issued: np.ndarray
    prefetch_used: np.ndarray
    prefetch_late: np.ndarray
    prefetch_wasted: np.ndarray
    readahead_pages: np.ndarray
    pollution_faults: np.ndarray
    gating_delay_ns: np.ndarray
    gated_dispatches: np.ndarray
    dispatches: np.ndarray
    planned_dispatches: np.ndarray
    swap_full_stalls: np.ndarray
    read_retries: np.ndarray
    write_failed_pages: np.ndarray
    latency_spikes: np.ndarray
    swap_full_refused_pages: np.ndarray

    def __init__(self, n_vms: int):
        self.n_vms = n_vms
        for name in COUNTERS:
            setattr(self, name, np.zeros(n_vms, dtype=np.int64))

    def snapshot(self) -> np.ndarray:
        """All counters as one (n_counters, n_vms) array."""
        return np.stack([getattr(self, n) for n in COUNTERS])

    def vm_dict(self, vm: int) -> dict[str, int]:
        return {n: int(getattr(self, n)[vm]) for n in COUNTERS}


def _ratio(a: float, b: float) -> float:
    return float(a) / float(b) if b else 0.0


def lost_time_ns(c: Mapping[str, float]) -> int:
    """Time a VM could have run and did not because of paging: its stall (waiting on memory)
    plus the time dispatch gating held it back (waiting for a restore to land). Claims use
    this, not stall alone: gating only moves a wait from inside a slice to before it."""
    return int(c["stall_ns"]) + int(c["gating_delay_ns"])


def pages_read(c: Mapping[str, float]) -> int:
    """Pages read from swap: demand reads with their readahead, plus the policy's prefetches
    (prefetch_issued counts readahead too, so it is taken out once)."""
    return int(c["swap_in_pages"]) + int(c["prefetch_issued"]) - int(c["readahead_pages"])


def derived(
    c: Mapping[str, float],
    baseline_refs: float | None,
    page_bytes: int = 0,
    sim_time_ns: int = 0,
) -> dict[str, Any]:
    """Ratios a user reads first, from summed counters: lost time, the I/O cost of the useful
    work (pages moved per 1,000 references executed) and the bytes written per simulated
    second (what wears an SSD; 0 when the page size or the duration is not given)."""
    scheduled = c["run_ns"]
    refs = c["references"]
    written = int(c["swap_out_pages"])
    out: dict[str, Any] = {
        "stall_fraction": round(_ratio(c["stall_ns"], scheduled), 6),
        "lost_time_ns": lost_time_ns(c),
        "prefetch_accuracy": round(_ratio(c["prefetch_used"], c["prefetch_issued"]), 6),
        "prefetch_timeliness": round(
            _ratio(c["prefetch_used"] - c["prefetch_late"], c["prefetch_used"]), 6
        ),
        "plan_accuracy": round(_ratio(c["planned_dispatches"], c["dispatches"]), 6),
        "pages_read_per_kref": round(1000 * _ratio(pages_read(c), refs), 6),
        "pages_written_per_kref": round(1000 * _ratio(written, refs), 6),
        "bytes_written_per_s": round(_ratio(written * page_bytes * 1e9, sim_time_ns), 3),
    }
    if baseline_refs is not None:
        out["slowdown"] = (
            round(_ratio(baseline_refs, c["references"]), 6) if c["references"] else None
        )
    return out


def summarise(
    counters: Counters,
    vm_names: list[str],
    sim_time_ns: int,
    baseline_refs: np.ndarray | None,
    device: dict[str, Any],
    page_bytes: int = 0,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(host summary, per-VM list). Slowdown is useful work with unlimited memory over useful
    work here, in the same simulated time (1.0 means no loss)."""
    vms = []
    for i, name in enumerate(vm_names):
        c: dict[str, Any] = counters.vm_dict(i)
        base = None if baseline_refs is None else float(baseline_refs[i])
        c.update(derived(c, base, page_bytes, sim_time_ns))
        vms.append({"name": name, **c})
    total = {n: int(getattr(counters, n).sum()) for n in counters.__dict__ if n != "n_vms"}
    summary: dict[str, Any] = dict(total)
    base_sum = None if baseline_refs is None else float(np.sum(baseline_refs))
    summary.update(derived(total, base_sum, page_bytes, sim_time_ns))
    summary["sim_time_ns"] = int(sim_time_ns)
    summary.update(device)
    # What wears an SSD is every page the device wrote, including writes whose page was
    # dirtied again or pulled back before they completed; a VM's own figure can only count
    # the pages its writes left on swap (swap_out_pages).
    device_written = device.get("device_write_to_free_pages", 0) + device.get(
        "device_background_write_pages", 0
    )
    if device_written:
        refs = total["references"]
        summary["pages_written_per_kref"] = round(1000 * _ratio(device_written, refs), 6)
        summary["bytes_written_per_s"] = round(
            _ratio(device_written * page_bytes * 1e9, sim_time_ns), 3
        )
    return summary, vms
