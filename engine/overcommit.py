"""A scenario's real overcommit: the distinct guest pages its VMs touch in the run, ÷ host frames.

Configured guest memory ÷ host memory says little: a VM may touch a fraction of its memory.
The touched pages are counted with unlimited memory (no VM stalls, so each makes all the
progress its CPU share allows and the figure is the same whatever the paging policy). This
is the one definition: the scenario descriptions (tests/golden/test_overcommit.py) and the
sweeps' `touched_pages` (engine.sweep.task, the envelope's axis) both take it from here.
"""

from __future__ import annotations

import json

import numpy as np

from engine.bounded_cache import BoundedCache
from engine.pool import UNTOUCHED
from engine.scenario import Scenario
from engine.simulator import Simulation

# One int per scenario plus its key (the scenario's JSON): a sweep's grid points fit easily.
_TOUCHED_CACHE: BoundedCache[int] = BoundedCache(4 * 1024 * 1024)


def touched_pages(scenario: Scenario) -> int:
    """Distinct guest pages the VMs touch over the scenario's duration with unlimited memory.
    Cached per scenario, the policy and recording left out of the key (with unlimited memory
    no policy decides anything): a sweep's runs of one grid point under several policies
    count it once."""
    kept = {k: v for k, v in scenario.to_dict().items() if k not in ("policy", "recording")}
    key = json.dumps(kept, sort_keys=True)

    def count() -> int:
        sim = Simulation(scenario, {"name": "demand"}, record=False, unlimited_memory=True)
        sim.run(with_baseline=False)
        # A page leaves UNTOUCHED on its first reference and never returns to it.
        return int(np.count_nonzero(sim.pool.state != UNTOUCHED))

    return _TOUCHED_CACHE.get_or_compute(key, count)


def overcommit(scenario: Scenario) -> float:
    """Touched pages ÷ host frames (above 1: not every touched page fits at once)."""
    return touched_pages(scenario) / scenario.host_frames
