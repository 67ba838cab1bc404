"""The oracle is a bound: on every shipped scenario it never loses more time than demand
paging (checked on the first 300 ms of each, seeds 1-5; benchmarks/bounds_table.py runs the
full length)."""

from __future__ import annotations

import pytest

from engine.scenario import load_scenario, with_overrides
from engine.simulator import simulate
from tests.conftest import SCENARIOS

pytestmark = pytest.mark.slow

FILES = sorted(SCENARIOS.glob("*.toml"))
SEEDS = (1, 2, 3, 4, 5)
DURATION = "duration_ms=300"


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_the_oracle_loses_no_more_time_than_demand_paging(path, seed: int) -> None:
    """Oracle's lost time (stall + gating wait) is at most demand paging's."""
    scenario = with_overrides(load_scenario(path), [f"seed={seed}", DURATION])
    demand = simulate(scenario, {"name": "demand"}, record=False).summary
    oracle = simulate(scenario, {"name": "oracle"}, record=False).summary
    assert oracle["lost_time_ns"] <= demand["lost_time_ns"]
