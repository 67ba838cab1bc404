"""Lost time and I/O cost in the summary: what claims and cards read, derived from counters."""

from __future__ import annotations

from engine.metrics import COUNTERS, derived
from engine.policies import validate_policy
from engine.scenario import from_dict
from engine.simulator import Simulation
from tests.unit.test_policy_contract import small


def counters(**values: int) -> dict[str, int]:
    return {**dict.fromkeys(COUNTERS, 0), **values}


def test_lost_time_is_stall_plus_time_held_by_gating() -> None:
    """A gated wait before the slice counts as much as a stall inside it."""
    out = derived(counters(stall_ns=7_000, gating_delay_ns=3_000), None)
    assert out["lost_time_ns"] == 10_000


def test_io_cost_counts_reads_once_per_1000_useful_references() -> None:
    """Demand reads with their readahead plus other prefetches (readahead is not counted
    twice), and pages written, per 1,000 references; bytes written per simulated second."""
    c = counters(
        references=50_000,
        swap_in_pages=900,  # 100 of them read ahead with faults
        readahead_pages=100,
        prefetch_issued=400,  # those 100 and 300 restored before use
        swap_out_pages=250,
    )
    out = derived(c, None, page_bytes=4096, sim_time_ns=500_000_000)
    assert out["pages_read_per_kref"] == 1000 * 1200 / 50_000
    assert out["pages_written_per_kref"] == 1000 * 250 / 50_000
    assert out["bytes_written_per_s"] == 250 * 4096 * 2


def test_summary_totals_agree_with_the_vms_and_the_device() -> None:
    """Host lost time is the sum over VMs; pages written equal what the device wrote."""
    scenario = from_dict(small())
    sim = Simulation(scenario, validate_policy({"name": "predictive"}), record=False)
    run = sim.run()
    s = run.summary
    assert s["lost_time_ns"] == s["stall_ns"] + s["gating_delay_ns"] > 0
    assert s["lost_time_ns"] == sum(vm["lost_time_ns"] for vm in run.vms)
    written = s["device_write_to_free_pages"] + s["device_background_write_pages"]
    refs = s["references"]
    assert s["pages_written_per_kref"] == round(1000 * written / refs, 6)
    assert s["bytes_written_per_s"] > 0
