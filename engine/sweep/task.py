"""The task a Dask worker runs: one validated scenario dict in, its summary out (JSON-ready).

Besides the run's summary it gives the touched footprint: the distinct guest pages the
scenario's VMs touch and the host's frames, whose ratio is the *real* overcommit (configured
guest memory ÷ host memory overstates it when the VMs touch less than they are given). The
touched pages are engine.overcommit's, counted with unlimited memory, so every policy of a
grid point reports the same figure and the scenario descriptions use the same definition.

Workers import it by reference (module and name), never as shipped source: `engine.sweep.run_one`
is the path they resolve, whatever the layout inside the package.
"""

from __future__ import annotations

import time
from typing import Any

from engine.overcommit import touched_pages
from engine.scenario import from_dict
from engine.simulator import Simulation

FOOTPRINT_METRICS = ("touched_pages", "host_frames")


def run_one(scenario: dict[str, Any]) -> dict[str, Any]:
    """The task a worker runs: simulate one validated scenario dict; JSON-ready dicts back.
    The summary is `simulate`'s plus touched_pages (engine.overcommit) and host_frames."""
    start = time.perf_counter()
    s = from_dict(scenario)
    sim = Simulation(s, None, record=False)
    result = sim.run()
    touched = touched_pages(s)
    summary = {**result.summary, "touched_pages": touched, "host_frames": int(s.host_frames)}
    return {"summary": summary, "elapsed_s": round(time.perf_counter() - start, 6)}


# Pickled tasks name the function by this path: the one the docs promise, and the one a worker
# of an earlier layout (a single engine/sweep.py) can resolve too.
run_one.__module__ = "engine.sweep"
