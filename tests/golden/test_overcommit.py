"""Every shipped scenario states its real overcommit (touched pages ÷ frames), and the figure
is the measured one to the rounding stated (issue 13: names and descriptions do not overstate)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.overcommit import overcommit, touched_pages
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


# "in 1.5 s" / "in 600 ms"; "~46,000 distinct pages" (about: to the hundred) or "1,154 distinct
# pages" (exactly); "against 23,040 frames".
STATED_SPAN = re.compile(r"\bin ([\d.]+) (s|ms)\b")
STATED_PAGES = re.compile(r"(~?)([\d,]+) distinct pages")
STATED_FRAMES = re.compile(r"against ([\d,]+) frames")


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_the_stated_touched_pages_frames_and_span_are_the_measured_ones(path: Path) -> None:
    """The figures behind the ratio say what the run does: the distinct pages touched (a '~'
    figure within rounding to the hundred, else exact), the host's frames and, where stated,
    the span they are touched in (the scenario's duration)."""
    scenario = load_scenario(path)
    text = scenario.description
    pages = STATED_PAGES.search(text)
    frames = STATED_FRAMES.search(text)
    assert pages and frames, f"{path.name}: no 'N distinct pages ... against N frames'"
    stated = int(pages.group(2).replace(",", ""))
    measured = touched_pages(scenario)
    if pages.group(1):
        assert abs(stated - measured) <= 50, (stated, measured)
    else:
        assert stated == measured
    assert int(frames.group(1).replace(",", "")) == scenario.host_frames
    for value, unit in STATED_SPAN.findall(text):
        assert float(value) * (1000.0 if unit == "s" else 1.0) == scenario.duration_ms, (
            f"{path.name} says 'in {value} {unit}', its duration is {scenario.duration_ms} ms"
        )
