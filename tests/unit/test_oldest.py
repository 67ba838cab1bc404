"""The compiled kept-list selection (engine.hotpath.oldest) picks exactly what the numpy
selection picks, and a run whose kernel makes the list itself agrees with the per-reference
model."""

from __future__ import annotations

import numpy as np
import pytest

from engine import from_dict, simulate
from engine.hotpath.oldest import TOO_WIDE, oldest_pages
from engine.page_states import CLEAN, DIRTY, PREFETCHED, READING, SWAPPED, UNTOUCHED, WRITING
from engine.policies import victims

ALL_STATES = np.array([UNTOUCHED, CLEAN, DIRTY, PREFETCHED, SWAPPED, READING, WRITING])


class _Pool:
    """The one attribute victims.candidates reads."""

    def __init__(self, state: np.ndarray):
        self.state = state


def _numpy_selection(state: np.ndarray, keys: np.ndarray, want: int) -> np.ndarray:
    found = victims.candidates(_Pool(state))  # type: ignore[arg-type]
    return victims.smallest(keys[found], found, want)


@pytest.mark.parametrize("want", [1, 40, 700, 5000, 20000])
def test_oldest_pages_equals_candidates_and_smallest(want: int) -> None:
    """The want evictable pages with the smallest (key, page), in that order, with their
    keys: as candidates() then smallest() give them, ties (many) to the lower page."""
    rng = np.random.default_rng(want)
    for n_pages in (0, 1, 300, 9000):
        state = rng.choice(ALL_STATES, n_pages).astype(np.int8)
        keys = rng.integers(10**9, 10**9 + 4000, n_pages, dtype=np.int64)
        pages = np.empty(want, dtype=np.int64)
        out_keys = np.empty(want, dtype=np.int64)
        count = oldest_pages(state, keys, want, pages, out_keys)
        expected = _numpy_selection(state, keys, want)
        assert count == expected.size
        np.testing.assert_array_equal(pages[:count], expected)
        np.testing.assert_array_equal(out_keys[:count], keys[expected])


def test_keys_too_wide_to_pack_fall_back_to_numpy() -> None:
    """Keys spanning more than 62 bits with the page bits make oldest_pages answer TOO_WIDE,
    and Oldest then selects in Python, in the same (key, page) order."""
    state = np.full(64, CLEAN, dtype=np.int8)
    keys = np.arange(64, dtype=np.int64)[::-1] * (1 << 56)
    pages = np.empty(8, dtype=np.int64)
    assert oldest_pages(state, keys, 8, pages, np.empty(8, dtype=np.int64)) == TOO_WIDE

    pool = _Pool(state)
    pool.last_use_ns = keys  # type: ignore[attr-defined]
    pool.write_failures = 0  # type: ignore[attr-defined]
    got = victims.Oldest("last_use_ns", keep=16)(pool, 8, 0)  # type: ignore[arg-type]
    np.testing.assert_array_equal(got, np.arange(63, 55, -1))


def _readahead_host(victim_order: str) -> dict:
    """A host whose readahead (8-page clusters over a Zipf stream) uses up the kept list of
    16K pages many times within a step, so the kernel makes it again itself."""
    return {
        "name": "remake",
        "seed": 3,
        "duration_ms": 12.0,
        "host": {"pcpus": 1, "memory_mib": 8, "swap_mib": 256, "step_us": 1000},
        "device": {"preset": "custom", "latency_us": 0.01, "bandwidth_mbps": 1e6, "channels": 2},
        "scheduler": {"kind": "rr", "slice_ms": 100.0},
        "policy": {"name": "demand", "victims": victim_order, "readahead": "fixed"},
        "recording": {"enabled": False},
        "vms": [
            {
                "name": "zipf",
                "memory_mib": 64,
                "workload": {"kind": "zipf", "zipf_alpha": 0.9, "write_fraction": 0.3},
            }
        ],
    }


@pytest.mark.parametrize("victim_order", ["lru", "fifo"])
def test_kernel_made_list_agrees_with_the_per_reference_model(victim_order: str) -> None:
    """With readahead churning the kept list, the compiled executor (which makes the list
    again inside the kernel) gives every counter exactly as the per-reference model does."""
    scenario = from_dict(_readahead_host(victim_order))
    fast = simulate(scenario, executor="fast", record=False)
    ref = simulate(scenario, executor="reference", record=False)
    assert fast.summary["swap_in_pages"] > 3 * 2048  # the 2K frames were replaced many times
    assert fast.summary == ref.summary
    assert fast.vms == ref.vms
