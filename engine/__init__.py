"""vmswap engine: deterministic simulation of memory overcommit under a CPU scheduler.

>>> from engine import load_scenario, simulate
>>> run = simulate(load_scenario("scenarios/quickstart.toml"), "demand", record=False)
>>> run.summary["references"] > 0 and run.summary["major_faults"] > 0
True

The names below are imported from their modules on first use (PEP 562), not when the package
is: `python -m engine.cli` and `vmswap` import this package before the command line runs, and
the command line pauses the garbage collector while it imports numba and param (their few
hundred thousand objects live as long as the process; collecting among them while they are
made cost about 50 ms of a `vmswap run`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.errors import ScenarioError, TraceError, VmswapError
    from engine.scenario import (
        Scenario,
        dumps_toml,
        from_dict,
        load_scenario,
        loads_scenario,
        with_overrides,
    )
    from engine.simulator import RunResult, Simulation, simulate

# Each public name and the module that defines it.
_HOMES = {
    "ScenarioError": "engine.errors",
    "TraceError": "engine.errors",
    "VmswapError": "engine.errors",
    "Scenario": "engine.scenario",
    "dumps_toml": "engine.scenario",
    "from_dict": "engine.scenario",
    "load_scenario": "engine.scenario",
    "loads_scenario": "engine.scenario",
    "with_overrides": "engine.scenario",
    "RunResult": "engine.simulator",
    "Simulation": "engine.simulator",
    "simulate": "engine.simulator",
}

__all__ = [
    "RunResult",
    "Scenario",
    "ScenarioError",
    "Simulation",
    "TraceError",
    "VmswapError",
    "dumps_toml",
    "from_dict",
    "load_scenario",
    "loads_scenario",
    "simulate",
    "with_overrides",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # found here directly from now on
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])
