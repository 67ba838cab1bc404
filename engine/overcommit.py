"""A scenario's real overcommit: the distinct guest pages its VMs touch in the run, ÷ host frames.

Configured guest memory ÷ host memory says little: a VM may touch a fraction of its memory.
The touched pages are counted with unlimited memory (no VM stalls, so each makes all the
progress its CPU share allows and the figure is the same whatever the paging policy).
"""

from __future__ import annotations

import numpy as np

from engine.pool import UNTOUCHED
from engine.scenario import Scenario
from engine.simulator import Simulation


def touched_pages(scenario: Scenario) -> int:
    """Distinct guest pages the VMs touch over the scenario's duration with unlimited memory."""
    sim = Simulation(scenario, {"name": "demand"}, record=False, unlimited_memory=True)
    sim.run()
    return int(np.count_nonzero(sim.pool.state != UNTOUCHED))


def overcommit(scenario: Scenario) -> float:
    """Touched pages ÷ host frames (above 1: not every touched page fits at once)."""
    return touched_pages(scenario) / scenario.host_frames
