"""The task a Dask worker runs: one validated scenario dict in, its summary out (JSON-ready).

Workers import it by reference (module and name), never as shipped source: `engine.sweep.run_one`
is the path they resolve, whatever the layout inside the package.
"""

from __future__ import annotations

import time
from typing import Any

from engine.scenario import from_dict
from engine.simulator import simulate


def run_one(scenario: dict[str, Any]) -> dict[str, Any]:
    """The task a worker runs: simulate one validated scenario dict; JSON-ready dicts back."""
    start = time.perf_counter()
    result = simulate(from_dict(scenario), None, record=False)
    return {"summary": result.summary, "elapsed_s": round(time.perf_counter() - start, 6)}


# Pickled tasks name the function by this path: the one the docs promise, and the one a worker
# of an earlier layout (a single engine/sweep.py) can resolve too.
run_one.__module__ = "engine.sweep"
