"""Shared fixtures: paths to the repository, shipped scenarios and ../shared."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# No test may fail because the machine is busy. Hypothesis measures wall time twice: a
# deadline per example and the too-slow health check on data generation; both are off for
# every property test. Examples are derived from each test's name (derandomize), so a run
# checks the same cases on every machine and a failure reproduces without a database; the
# number of examples is set per test, where its cost is known.
settings.register_profile(
    "vmswap", deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.load_profile("vmswap")

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def scenarios_dir() -> Path:
    return SCENARIOS


@pytest.fixture(scope="module")
def browser(launch_browser):
    """One Chromium per test module (pytest-playwright keeps one for the whole session):
    closed as soon as a module's browser tests end, so no later test can disturb the event
    loop Playwright's synchronous API runs it on, and no idle browser holds memory."""
    launched = launch_browser()
    yield launched
    launched.close()
