"""The order and size of predictive's restore sets (engine/policies/working_sets.py) and the
schedule oracle's (engine/policies/schedule_oracle.py)."""

from __future__ import annotations

import numpy as np

from engine.pool import SWAPPED
from tests.unit.test_predictive import mini, run


def test_restore_sets_are_most_recent_first_ties_by_page_and_sized_without_sorting() -> None:
    """At every step of a short run, each VM's restore set is its swapped working-set pages
    in (last touch descending, page ascending) order, capped, and restore_set_size is its
    size, for predictive and the schedule oracle alike."""
    for name in ("predictive", "schedule-oracle"):
        sim = run(mini(), {"name": name}, steps=0)
        pol = sim.policy
        checked = 0
        for _ in range(120):
            if not sim.step():
                break
            now = sim.now_ns
            for vm in range(sim.n_vms):
                pages = pol.restore_set(vm, now)
                assert pol.restore_set_size(vm, now) == pages.size
                assert pages.size <= pol.vm_cap(vm)
                assert bool(np.all(sim.pool.state[pages] == SWAPPED))
                if name == "predictive" and pages.size > 1:
                    stamp = pol.touch_vns[pages]
                    later = (stamp[1:] < stamp[:-1]) | (
                        (stamp[1:] == stamp[:-1]) & (pages[1:] > pages[:-1])
                    )
                    assert bool(np.all(later))
                    checked += 1
        assert name != "predictive" or checked > 0
