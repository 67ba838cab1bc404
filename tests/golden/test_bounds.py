"""The oracle is a bound: on every shipped scenario it never loses more time than demand
paging (seeds 1-5; benchmarks/bounds_table.py runs every scenario at full length).

The check runs the first 300 ms of each scenario, which is where the scenarios differ most and
what keeps it affordable, except hdd_4vm, which runs whole: it is cheap (a disk serves few
references), and a short window misjudges it. There the disk is saturated by the writes that
free frames; the oracle's VMs fault less, so in 300 ms they get 4-5 % more done, touch more
new pages and wait on more writes, and lose 1-2 % more time than demand paging's while being
ahead (slowdown 3.86-3.89 against 4.03-4.04). Over the whole run the oracle loses less on
every seed."""

from __future__ import annotations

import pytest

from engine.scenario import load_scenario, with_overrides
from tests.conftest import SCENARIOS
from tests.golden.runs import figures

# Slow on purpose: issue 13 asks for the bound on every shipped scenario and seeds 1-5, 40
# cases of two runs each (the docstring says how long each runs and why).
pytestmark = pytest.mark.slow

FILES = sorted(SCENARIOS.glob("*.toml"))
SEEDS = (1, 2, 3, 4, 5)
DURATION = "duration_ms=300"
WHOLE = {"hdd_4vm"}  # run at full length (above)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_the_oracle_loses_no_more_time_than_demand_paging(path, seed: int) -> None:
    """Oracle's lost time (stall + gating wait) is at most demand paging's."""
    cut = [] if path.stem in WHOLE else [DURATION]
    scenario = with_overrides(load_scenario(path), [f"seed={seed}", *cut])
    # Lost time needs no unlimited-memory baseline (only slowdown divides by it): two runs a
    # case, not three, each unrecorded and shared with any other golden test that asks.
    demand = figures(scenario, {"name": "demand"}, with_baseline=False).summary
    oracle = figures(scenario, {"name": "oracle"}, with_baseline=False).summary
    assert oracle["lost_time_ns"] <= demand["lost_time_ns"]
