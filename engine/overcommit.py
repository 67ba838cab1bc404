"""A scenario's real overcommit: the distinct guest pages its VMs touch in the run, ÷ host frames.

Configured guest memory ÷ host memory says little: a VM may touch a fraction of its memory.
The touched pages are counted with unlimited memory (no VM stalls, so each makes all the
progress its CPU share allows and the figure is the same whatever the paging policy). This
is the one definition: the scenario descriptions (tests/golden/test_overcommit.py) and the
sweeps' `touched_pages` (engine.sweep.task, the envelope's axis) both take it from here.
"""

from __future__ import annotations

from engine.scenario import Scenario
from engine.simulator import unlimited_outcome


def touched_pages(scenario: Scenario) -> int:
    """Distinct guest pages the VMs touch over the scenario's duration with unlimited memory.
    The same run as the slowdown baseline's, cached with it (the policy and recording left out
    of the key: with unlimited memory no policy decides anything), so a sweep's runs of one
    grid point under several policies, or a run and its overcommit line, run it once."""
    return unlimited_outcome(scenario).touched_pages


def overcommit(scenario: Scenario) -> float:
    """Touched pages ÷ host frames (above 1: not every touched page fits at once)."""
    return touched_pages(scenario) / scenario.host_frames
