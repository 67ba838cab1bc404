"""Hypothesis strategies for small, valid, swapping scenarios."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from engine import from_dict
from engine.scenario import Scenario

workloads = st.one_of(
    st.fixed_dictionaries(
        {
            "kind": st.just("zipf"),
            "zipf_alpha": st.floats(0.3, 1.3),
            "write_fraction": st.floats(0.0, 1.0),
            "scatter": st.booleans(),
        }
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just("scan"),
            "pages": st.integers(50, 1024),
            "write_fraction": st.floats(0.0, 1.0),
        }
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just("uniform"),
            "pages": st.integers(50, 1024),
            "write_fraction": st.floats(0.0, 1.0),
        }
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just("phased"),
            "ws_pages": st.integers(20, 400),
            "phase_refs": st.integers(500, 20000),
        }
    ),
)

activities = st.one_of(
    st.just({"kind": "always"}),
    st.fixed_dictionaries(
        {"kind": st.just("duty"), "burst_ms": st.floats(0.2, 5.0), "sleep_ms": st.floats(0.0, 5.0)}
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just("random"),
            "burst_ms": st.floats(0.2, 5.0),
            "sleep_ms": st.floats(0.1, 5.0),
        }
    ),
)

policies = st.fixed_dictionaries(
    {
        "name": st.just("demand"),
        "victims": st.sampled_from(["lru", "clock", "fifo", "random"]),
        "readahead": st.sampled_from(["off", "fixed", "adaptive"]),
        "page_cluster": st.integers(0, 4),
    }
)


@st.composite
def scenarios(draw: Any, max_vms: int = 4) -> Scenario:
    n = draw(st.integers(1, max_vms))
    vms = [
        {
            "name": f"vm{i}",
            "vcpus": draw(st.integers(1, 2)),
            "memory_mib": 4,
            "weight": draw(st.sampled_from([128, 256, 512])),
            "activity": draw(activities),
            "workload": {**draw(workloads), "cpu_ns_per_ref": draw(st.sampled_from([50, 200]))},
        }
        for i in range(n)
    ]
    data = {
        "seed": draw(st.integers(0, 2**32)),
        # At most 15 ms (it was 25): memory fills within the first few ms (at most 12 MiB of
        # frames against 5,000-20,000 references per ms per pCPU), and 15 ms still holds three
        # 5 ms slices and several bursts and sleeps; each example runs the per-reference model
        # (or a check after every step), whose cost grows with the duration.
        "duration_ms": draw(st.floats(5.0, 15.0)),
        "host": {
            "pcpus": draw(st.integers(1, 3)),
            "memory_mib": draw(st.integers(1, 3 * n)),
            "swap_mib": draw(st.sampled_from([1, 2, 64])),
            "step_us": draw(st.sampled_from([200, 500, 1000])),
            "fault_mode": draw(st.sampled_from(["stall", "yield"])),
            "low_watermark_pct": draw(st.sampled_from([0.0, 1.0, 3.0])),
            "high_watermark_pct": draw(st.sampled_from([3.0, 6.0])),
            "reclaim_batch_pages": draw(st.sampled_from([1, 8, 32])),
            "write_batch_pages": draw(st.sampled_from([1, 4, 32])),
        },
        "device": {
            "preset": draw(st.sampled_from(["nvme-ssd", "hdd-7200", "zram-lz4", "sata-ssd"]))
        },
        "scheduler": {
            "kind": draw(st.sampled_from(["rr", "credit"])),
            "slice_ms": draw(st.sampled_from([0.5, 2.0, 5.0])),
        },
        "policy": draw(policies),
        "recording": {"enabled": False},
        "vms": vms,
    }
    if draw(st.booleans()):
        data["faults"] = {
            "read_error_rate": draw(st.sampled_from([0.0, 0.2, 0.9])),
            "write_error_rate": draw(st.sampled_from([0.0, 0.3, 1.0])),
            "latency_spike_rate": draw(st.sampled_from([0.0, 0.1])),
            "latency_spike_us": draw(st.sampled_from([100.0, 5000.0])),
            "plan_error_rate": draw(st.sampled_from([0.0, 0.5])),
        }
    return from_dict(data)
