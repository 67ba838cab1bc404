"""Every shipped scenario is a golden test: its summary metrics are exactly the recorded ones.

A deliberate change of the model regenerates them with `python -m tests.golden.update`."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SCENARIOS
from tests.golden.update import GOLDEN, golden_of

# Slow on purpose: a golden summary is of the whole shipped run (up to 3 s simulated), since a
# model change may show only late in it. The runs are shared with the other golden tests.
pytestmark = pytest.mark.slow

FILES = sorted(SCENARIOS.glob("*.toml"))


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_scenario_matches_its_golden_summary(path):
    """The scenario's own policy gives exactly the recorded counters and ratios."""
    golden = GOLDEN / f"{path.stem}.json"
    assert golden.exists(), f"no golden summary for {path.name}: run python -m tests.golden.update"
    expected = json.loads(golden.read_text())
    got = json.loads(json.dumps(golden_of(path), sort_keys=True))
    assert got["summary"] == expected["summary"]
    assert got["vms"] == expected["vms"]
