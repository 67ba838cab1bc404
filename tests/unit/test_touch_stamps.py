"""predictive's touch stamps after each run of references: the compiled stamping
(engine.hotpath.touch_stamps) leaves the stamps the numpy statement (`after_run_reference`)
leaves, call by call in real runs, with and without readahead that landed with faults."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine import load_scenario, simulate
from engine.hotpath.touch_stamps import stamp_touches
from engine.policies.working_sets import WorkingSets
from engine.pool import PREFETCHED
from engine.scenario.overrides import with_overrides

ROOT = Path(__file__).resolve().parents[2]
STAMPS = ("history", "touch_vns", "touch_ns", "touch_recent")


@pytest.mark.parametrize(("name", "ms"), [("nvme_8vm_2x", 200), ("patent_demo", 300)])
def test_compiled_stamps_are_the_reference_call_by_call(
    monkeypatch: pytest.MonkeyPatch, name: str, ms: int
) -> None:
    compiled = WorkingSets.after_run
    calls = {"all": 0, "with readahead": 0}

    def both(self: WorkingSets, vm: int, pages: np.ndarray, major_pages: np.ndarray) -> None:
        kept = {a: getattr(self, a).copy() for a in STAMPS}
        self.after_run_reference(vm, pages, major_pages)
        expected = {a: getattr(self, a) for a in STAMPS}
        for a in STAMPS:
            setattr(self, a, kept[a])
        compiled(self, vm, pages, major_pages)
        for a in STAMPS:
            assert np.array_equal(getattr(self, a), expected[a]), (a, vm, pages.size)
        calls["all"] += 1
        cluster = int(self.machine.ra_cluster[vm])
        calls["with readahead"] += bool(major_pages.size and cluster > 1)

    monkeypatch.setattr(WorkingSets, "after_run", both)
    scenario = load_scenario(ROOT / "scenarios" / f"{name}.toml")
    simulate(with_overrides(scenario, [f"duration_ms={ms}"]), "predictive", record=False)
    assert calls["all"] > 50 and calls["with readahead"] > 10, calls


def test_a_cluster_at_the_vms_end_stops_there_and_older_loads_keep_their_stamps() -> None:
    """A fault's cluster is cut at the VM's last page; a prefetched page loaded before the
    period began keeps its stamp (it is from another period, not this VM time's base)."""
    n = 16
    history = np.zeros(n, dtype=np.uint32)
    touch_vns = np.full(n, -5, dtype=np.int64)
    touch_ns = np.zeros(n, dtype=np.int64)
    last_use = np.arange(n, dtype=np.int64) * 10 + 1000
    state = np.full(n, PREFETCHED, dtype=np.int8)
    load_ns = np.full(n, 1500, dtype=np.int64)
    load_ns[9] = 900  # loaded before the period began at 1000
    pages = np.array([3], dtype=np.int64)
    majors = np.array([9], dtype=np.int64)  # cluster of 4 from page 8 of a VM [4, 11)
    recent = np.zeros(n, dtype=np.uint8)
    stamp_touches(
        pages, majors, history, touch_vns, touch_ns, last_use, state, load_ns,
        1000, 70, 4, 4, 11, recent,
    )  # fmt: skip
    assert history.tolist() == [0, 0, 0, 1] + [0] * 12
    assert recent.tolist() == history.tolist()  # (the touched page's byte, not its cluster's)
    assert touch_ns[3] == 1030 and touch_vns[3] == 70 + 30
    assert touch_vns[8] == touch_vns[10] == 70 + 500  # landed in this period
    assert touch_vns[9] == -5  # loaded before it
    assert touch_vns[11] == -5  # past the VM's end
