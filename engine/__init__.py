"""vmswap engine: deterministic simulation of memory overcommit under a CPU scheduler.

>>> from engine import load_scenario, simulate
>>> run = simulate(load_scenario("scenarios/quickstart.toml"), "demand", record=False)
>>> run.summary["references"] > 0 and run.summary["major_faults"] > 0
True
"""

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
