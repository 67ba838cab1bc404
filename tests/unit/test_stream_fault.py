"""The oracle's fault read made in the compiled executor: the pages Oracle.fault_prefetch
picks, the device time of a demand read, and runs identical to the per-reference model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine import simulate
from engine.hotpath import slots as sl
from engine.hotpath.device_time import demand_read_ns
from engine.hotpath.next_use import first_swapped
from engine.hotpath.stream_fault import read_stream_ahead
from engine.pool import PREFETCHED, SWAPPED
from tests.helpers import small_scenario


def _device() -> np.ndarray:
    device = np.zeros(sl.N_DEVICE, dtype=np.int64)
    device[sl.V_LATENCY_NS], device[sl.V_PAGE_NS], device[sl.V_OP_NS] = 10_000, 1_000, 3_000
    return device


@pytest.mark.parametrize(("n", "most"), [(0, 7), (9, 7), (100, 0), (4000, 63), (0, 4096)])
def test_the_pages_read_are_first_swappeds_and_land_with_the_read(n: int, most: int) -> None:
    """The pages read along are first_swapped's over the scan (the faulting page skipped),
    they become PREFETCHED, loaded and last used when the read ends, unreferenced; the read
    takes what a demand read of them all takes (its statistics are the caller's to book)."""
    rng = np.random.default_rng(n + most)
    n_pages, vm_lo = 400, 100
    state = rng.integers(0, 7, size=vm_lo + n_pages).astype(np.int8)
    ahead = rng.integers(0, n_pages, size=4200).astype(np.int64)
    page = vm_lo + int(ahead[n])
    state[page] = SWAPPED
    seen = np.zeros(state.size, dtype=np.bool_)
    want, _ = first_swapped(
        ahead, n, min(n + 4096, ahead.size), vm_lo, state, SWAPPED, page, most, seen
    )
    before = state.copy()
    last_use, load = np.zeros(state.size, np.int64), np.zeros(state.size, np.int64)
    ref_bit = np.ones(state.size, dtype=np.bool_)
    busy, boundary, delta = (
        np.zeros(4, np.int64),
        np.zeros(4, np.int64),
        np.zeros(sl.N_DELTAS, np.int64),
    )
    device = _device()
    done, n_extra, service = read_stream_ahead(
        ahead, n, 4096, most, vm_lo, page, state, last_use, load, ref_bit, device, busy,
        boundary, 1, 5_000, delta,
    )  # fmt: skip
    assert n_extra == want.size
    assert done == demand_read_ns(
        _device(), np.zeros(4, np.int64), boundary, 1, 5_000, 1 + want.size
    )
    assert service == done - 5_000 and busy[1] == done  # the lane was free: it starts at once
    assert (state[want] == PREFETCHED).all() and (load[want] == done).all()
    assert (last_use[want] == done).all() and not ref_bit[want].any()
    others = np.setdiff1d(np.arange(state.size), want)
    np.testing.assert_array_equal(state[others], before[others])
    assert delta[sl.D_READAHEAD] == delta[sl.D_PREFETCH_ISSUED] == want.size


def _vms(vcpus: int) -> list[dict]:
    zipf = {"kind": "zipf", "zipf_alpha": 0.8}
    uniform = {"kind": "uniform", "pages": 600, "write_fraction": 0.5}
    return [
        {"name": "a", "memory_mib": 4, "vcpus": vcpus, "workload": zipf},
        {"name": "b", "memory_mib": 4, "workload": {"kind": "scan", "pages": 700}},
        {"name": "c", "memory_mib": 4, "workload": uniform},
    ]


@pytest.mark.parametrize("vcpus", [1, 2])
def test_oracle_runs_with_the_kernels_fault_reads_equal_the_model(vcpus: int) -> None:
    """Under the oracle, with faults read in the kernel (one vCPU per VM) or by Python (a VM
    with two), the compiled executor gives exactly the per-reference model's run."""
    s = small_scenario(duration_ms=80.0, vms=_vms(vcpus), policy={"name": "oracle"})
    fast = simulate(s, executor="fast", record=False)
    ref = simulate(s, executor="reference", record=False)
    assert fast.summary["major_faults"] > 50 and fast.summary["readahead_pages"] > 50
    assert json.dumps(fast.to_json(), sort_keys=True) == json.dumps(ref.to_json(), sort_keys=True)
    assert [(x.pcpu, x.vcpu, x.start_ns, x.end_ns) for x in fast.slices] == [
        (x.pcpu, x.vcpu, x.start_ns, x.end_ns) for x in ref.slices
    ]
