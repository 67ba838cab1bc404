"""Leap's majority-trend prefetcher: the vote, the trend windows, the prefetch window."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.hotpath.trend_fault import trend_pages
from engine.policies import validate_policy
from engine.policies.leap import LeapPrefetcher, find_trend, majority
from engine.scenario import from_dict
from engine.simulator import Simulation, simulate
from tests.helpers import fault_prefetch_asks


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


@given(
    faults=st.lists(st.tuples(st.integers(0, 2999), st.integers(0, 3)), min_size=1, max_size=120),
    history=st.sampled_from([2, 5, 32]),
    splits=st.sampled_from([1, 4, 64]),
    max_window=st.sampled_from([1, 8, 13]),
)
@settings(max_examples=60)
def test_the_compiled_trend_picks_what_fault_prefetch_picks(
    faults: list[tuple[int, int]], history: int, splits: int, max_window: int
) -> None:
    """The kernel's Leap (engine.hotpath.trend_fault.trend_pages) on a VM's row asks for the
    same pages as the readable fault_prefetch, fault after fault, with prefetch hits coming
    in between, and leaves the row as fault_prefetch leaves it."""
    policy = {"history": history, "splits": splits, "max_window_pages": max_window}
    sim = sim_for({"kind": "uniform", "pages": 3000}, **policy)
    leap: LeapPrefetcher = sim.policy  # type: ignore[assignment]
    rows, config = leap.row_fault_read()
    kernel_rows = rows.copy()
    base = int(sim.pool.base[0])
    out = np.empty(max_window, dtype=np.int64)
    for page, hits in faults:
        sim.counters.prefetch_used[0] += hits
        used = int(sim.counters.prefetch_used[0])
        n = trend_pages(kernel_rows[0], config, base + page, used, base, out)
        want = leap.fault_prefetch(0, base + page, 0)
        assert list(out[:n]) == ([] if want is None else list(want))
        assert (kernel_rows == rows).all()


def test_leaps_fault_reads_are_made_in_the_kernel() -> None:
    """On a scan (a trend to follow) the compiled executor reads Leap's pages itself, never
    asking fault_prefetch, and every figure is the per-reference model's."""
    fast = sim_for({"kind": "scan", "pages": 1500, "write_fraction": 0.1})
    asked = fault_prefetch_asks(fast.policy)
    got = fast.run()
    assert fast.counters.prefetch_issued.sum() > 1000 and asked == []
    ref = simulate(fast.scenario, {"name": "leap"}, executor="reference", record=False)
    assert got.to_json() == ref.to_json()
