"""The task a Dask worker runs: one validated scenario dict in, its summary out (JSON-ready).

Besides the run's summary it measures the touched footprint: the distinct guest pages the run
touched and the host's frames, whose ratio is the *real* overcommit (configured guest memory
÷ host memory overstates it when the VMs touch less than they are given).

Workers import it by reference (module and name), never as shipped source: `engine.sweep.run_one`
is the path they resolve, whatever the layout inside the package.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from engine.pool import UNTOUCHED
from engine.scenario import from_dict
from engine.simulator import Simulation

FOOTPRINT_METRICS = ("touched_pages", "host_frames")


def run_one(scenario: dict[str, Any]) -> dict[str, Any]:
    """The task a worker runs: simulate one validated scenario dict; JSON-ready dicts back.
    The summary is `simulate`'s plus touched_pages and host_frames."""
    start = time.perf_counter()
    s = from_dict(scenario)
    sim = Simulation(s, None, record=False)
    result = sim.run()
    # A page leaves UNTOUCHED on its first reference and never returns to it.
    touched = int(np.count_nonzero(sim.pool.state != UNTOUCHED))
    summary = {**result.summary, "touched_pages": touched, "host_frames": int(s.host_frames)}
    return {"summary": summary, "elapsed_s": round(time.perf_counter() - start, 6)}


# Pickled tasks name the function by this path: the one the docs promise, and the one a worker
# of an earlier layout (a single engine/sweep.py) can resolve too.
run_one.__module__ = "engine.sweep"
