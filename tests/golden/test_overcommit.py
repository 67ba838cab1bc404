"""Every shipped scenario states its real overcommit (touched pages ÷ frames), and the figure
is the measured one to the rounding stated (issue 13: names and descriptions do not overstate)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.overcommit import overcommit
from engine.scenario import load_scenario
from tests.conftest import SCENARIOS

pytestmark = pytest.mark.slow
FILES = sorted(SCENARIOS.glob("*.toml"))
STATED = re.compile(r"real overcommit (\d+(?:\.(\d+))?)x", re.IGNORECASE)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_the_stated_real_overcommit_is_the_measured_one(path: Path) -> None:
    """The description's 'real overcommit N.Nx' equals touched pages ÷ frames, so rounded."""
    scenario = load_scenario(path)
    found = STATED.search(scenario.description)
    assert found, f"{path.name}: the description does not state 'real overcommit N.Nx'"
    decimals = len(found.group(2) or "")
    assert round(overcommit(scenario), decimals) == float(found.group(1))
