"""Leap's majority-trend prefetcher: the vote, the trend windows, the prefetch window."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.policies import validate_policy
from engine.policies.leap import LeapPrefetcher, find_trend, majority
from engine.scenario import from_dict
from engine.simulator import Simulation


def test_majority_is_more_than_half_or_none() -> None:
    """Boyer-Moore finds the value held by more than half, and only then."""
    assert majority(np.array([3, 1, 3, 3, 2, 3])) == 3
    assert majority(np.array([1, 2, 1, 2])) is None
    assert majority(np.array([5])) == 5
    assert majority(np.array([], dtype=np.int64)) is None


def test_the_trend_comes_from_the_newest_window_first() -> None:
    """With a history of 32 and 4 splits the vote looks at the newest 8, then 16, then 32."""
    old = np.full(24, 7)
    new = np.full(8, -2)
    assert find_trend(np.concatenate([old, new]), 8) == -2  # the newest 8 agree
    mixed = np.array([1, 2, 3, 4, 5, 6, 9, 9])  # no majority in the newest 8 ...
    assert find_trend(np.concatenate([np.full(24, 9), mixed]), 8) == 9  # ... but in all 32
    assert find_trend(np.arange(32), 8) is None
    assert find_trend(np.array([895, -883, 2483, -2199, 899, 34]), 8) is None  # all six vote


def sim_for(workload: dict[str, Any], **policy: Any) -> Simulation:
    data = {
        "name": "leap",
        "seed": 2,
        "duration_ms": 150.0,
        "host": {"pcpus": 1, "memory_mib": 4, "swap_mib": 128},
        "scheduler": {"kind": "rr", "slice_ms": 10.0},
        "recording": {"enabled": False},
        "vms": [{"name": "v", "memory_mib": 16, "workload": {"cpu_ns_per_ref": 400, **workload}}],
    }
    return Simulation(from_dict(data), validate_policy({"name": "leap", **policy}), record=False)


def test_a_stride_is_followed_and_the_window_grows_with_hits() -> None:
    """Faults 3 pages apart make +3 the trend; once prefetches hit, the window grows."""
    sim = sim_for({"kind": "scan", "pages": 3000})
    leap: LeapPrefetcher = sim.policy  # type: ignore[assignment]
    base = int(sim.pool.base[0])
    assert leap.fault_prefetch(0, base + 100, 0) is None  # no history, no hits: nothing
    for k in range(1, 9):
        leap.fault_prefetch(0, base + 100 + 3 * k, 0)
    got = leap.fault_prefetch(0, base + 127, 0)
    assert got is not None and list(got) == [base + 130]  # trend +3, window 1 without hits
    sim.counters.prefetch_used[0] += 5  # five prefetched pages were used since
    got = leap.fault_prefetch(0, base + 130, 0)
    assert got is not None and list(got) == [base + 130 + 3 * i for i in range(1, 9)]


def test_without_a_trend_it_reads_the_block_around_the_fault() -> None:
    """Random deltas: after hits, the aligned block around the fault (readahead)."""
    sim = sim_for({"kind": "uniform", "pages": 3000})
    leap: LeapPrefetcher = sim.policy  # type: ignore[assignment]
    base = int(sim.pool.base[0])
    for page in (5, 900, 17, 2500, 301, 1200):
        leap.fault_prefetch(0, base + page, 0)
    sim.counters.prefetch_used[0] += 3
    got = leap.fault_prefetch(0, base + 1234, 0)
    assert got is not None and list(got) == list(range(base + 1232, base + 1236))


def test_on_a_scan_leap_prefetches_usefully() -> None:
    """A sequential scan larger than memory: Leap's prefetches are used and faults drop."""
    leap = sim_for({"kind": "scan", "pages": 1500, "write_fraction": 0.0})
    leap.run(until=leap.end_ns)
    plain = Simulation(leap.scenario, {"name": "demand", "readahead": "off"}, record=False)
    plain.run(until=plain.end_ns)
    c = leap.counters
    assert c.prefetch_used.sum() > 0.9 * c.prefetch_issued.sum()
    p = plain.counters
    per_ref = c.major_faults.sum() / c.references.sum()
    assert per_ref < 0.5 * p.major_faults.sum() / p.references.sum()
    assert leap.policy.vector_readahead is False
