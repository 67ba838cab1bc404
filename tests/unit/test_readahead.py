"""Swap readahead as Linux computes it: the fixed page-cluster block and the adaptive window."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import from_dict, simulate
from engine.hotpath.adaptive_fault import window_pages
from engine.policies import validate_policy
from engine.policies.readahead import AdaptiveWindow, aligned_block, next_window
from engine.simulator import Simulation
from tests.helpers import fault_prefetch_asks


@pytest.mark.parametrize(
    ("prev_offset", "offset", "hits", "prev_win", "expected"),
    [
        (10, 50, 0, 0, 1),  # no hits, not adjacent: no readahead
        (10, 11, 0, 0, 2),  # no hits, next to the last fault: two pages
        (10, 9, 0, 0, 2),  # adjacent backwards counts too
        (10, 50, 1, 0, 4),  # hits + 2 = 3, rounded up to at least 4
        (10, 50, 3, 0, 8),  # 5 -> 8
        (10, 50, 20, 0, 8),  # capped at 2**page_cluster
        (10, 50, 0, 8, 4),  # no hits: halves, never faster
        (10, 50, 0, 4, 2),
        (10, 50, 0, 1, 1),
    ],
)
def test_next_window_is_the_kernels(prev_offset, offset, hits, prev_win, expected):
    """`__swapin_nr_pages` (mm/swap_state.c): hits + 2 rounded up to a power of two >= 4;
    adjacency gives 2 pages without hits; capped at max_pages; at least half the last one."""
    assert next_window(prev_offset, offset, hits, 8, prev_win) == expected


def test_window_grows_with_hits_and_shrinks_without():
    """Fed hits the window grows to the cluster; fed none it halves fault by fault to 1."""
    w = AdaptiveWindow(1, page_cluster=3)
    used = 0
    grown = []
    for i in range(4):
        used += 4  # every page of the last window was used
        grown.append(w.pages(0, 100 + 8 * i, used))
    shrunk = [w.pages(0, off, used) for off in (500, 90, 3000, 7, 1200)]
    assert grown[-1] == 8 and grown == sorted(grown)
    assert shrunk == [4, 2, 1, 1, 1]


def test_aligned_block_holds_the_offset():
    """The block is `pages`-aligned and contains the faulting offset."""
    for offset in (0, 5, 8, 13, 1023):
        start, end = aligned_block(offset, 8)
        assert start % 8 == 0 and start <= offset < end == start + 8


def _one_vm(workload: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "ra",
        "seed": 3,
        "duration_ms": 60.0,
        "host": {"pcpus": 1, "memory_mib": 4, "swap_mib": 64},
        "device": {"preset": "nvme-ssd"},
        "scheduler": {"kind": "rr", "slice_ms": 5.0},
        "recording": {"enabled": False},
        "vms": [{"name": "v", "memory_mib": 16, "workload": workload}],
    }


def _windows(workload: dict[str, Any], readahead: str = "adaptive") -> tuple[list[int], Any]:
    """Each fault's window and the counters, from the per-reference model (the compiled
    executor makes the same reads, test_the_kernels_reads_are_the_models, but lists none)."""
    policy = validate_policy({"name": "demand", "readahead": readahead})
    sim = Simulation(from_dict(_one_vm(workload)), policy, record=False, executor="reference")
    sim.run(until=sim.end_ns)
    adaptive = sim.policy.adaptive  # type: ignore[attr-defined]
    return (adaptive.windows[0] if adaptive else []), sim.counters


SCAN = {"kind": "scan", "pages": 3000, "write_fraction": 0.0}
RANDOM = {"kind": "uniform", "pages": 4000, "write_fraction": 0.0}


def test_adaptive_window_grows_on_a_sequential_stream():
    """A scan's faults find their readahead used: the window reaches the whole cluster."""
    windows, counters = _windows(SCAN)
    late = np.array(windows[len(windows) // 2 :])
    assert len(windows) > 50 and (late == 8).mean() > 0.9
    assert int(counters.prefetch_used[0]) > 0


def test_adaptive_window_shrinks_on_a_random_stream():
    """Random faults find no readahead used: the window falls to one page and stays there."""
    windows, counters = _windows(RANDOM)
    late = np.array(windows[len(windows) // 2 :])
    assert len(windows) > 50 and (late == 1).mean() > 0.9
    assert int(counters.readahead_pages[0]) < len(windows) // 10


def test_adaptive_is_not_off():
    """On a sequential stream adaptive readahead serves pages that off must fault on, so the
    VM gets further in the same time (it is stall-bound: each fault costs a device read)."""
    _, adaptive = _windows(SCAN)
    _, off = _windows(SCAN, "off")
    assert int(adaptive.prefetch_used[0]) > 1000 and int(off.prefetch_used[0]) == 0
    assert int(adaptive.references[0]) > 1.5 * int(off.references[0])


@given(
    faults=st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 9)), min_size=1, max_size=80),
    page_cluster=st.sampled_from([0, 1, 3, 4]),
)
@settings(max_examples=60)
def test_the_compiled_window_asks_for_what_fault_prefetch_asks_for(
    faults: list[tuple[int, int]], page_cluster: int
) -> None:
    """engine.hotpath.adaptive_fault.window_pages on a VM's row asks for the same pages as
    DemandPaging.fault_prefetch, fault after fault with readahead hits in between, and
    leaves the row as the model leaves it."""
    policy = validate_policy(
        {"name": "demand", "readahead": "adaptive", "page_cluster": page_cluster}
    )
    sim = Simulation(from_dict(_one_vm(RANDOM)), policy, record=False)
    demand = sim.policy
    rows, config = demand.row_fault_read()  # type: ignore[misc]
    kernel_rows = rows.copy()
    base = int(sim.pool.base[0])
    out = np.empty(max(1, 1 << page_cluster), dtype=np.int64)
    for offset, hits in faults:
        sim.counters.prefetch_used[0] += hits
        used = int(sim.counters.prefetch_used[0])
        n = window_pages(kernel_rows[0], config, base + offset, used, base, out)
        want = demand.fault_prefetch(0, base + offset, 0)
        assert list(out[:n]) == ([] if want is None else list(want))
        assert (kernel_rows == rows).all()


@pytest.mark.parametrize("workload", [SCAN, RANDOM])
def test_the_kernels_reads_are_the_models(workload: dict[str, Any]) -> None:
    """Adaptive readahead's faults stay in the compiled executor (fault_prefetch is never
    asked) and every figure is the per-reference model's."""
    policy = validate_policy({"name": "demand", "readahead": "adaptive"})
    scenario = from_dict(_one_vm(workload))
    fast = Simulation(scenario, policy, record=False)
    asked = fault_prefetch_asks(fast.policy)
    got = fast.run()
    assert fast.counters.major_faults.sum() > 100 and asked == []
    ref = simulate(scenario, policy, executor="reference", record=False)
    assert got.to_json() == ref.to_json()
