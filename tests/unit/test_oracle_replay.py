"""benchmarks/oracle_replay.py: the oracle's decisions, recorded in one run and replayed in
another, give the very same run (so the replay's time is the engine path's floor for the
oracle), and a replay fed other decisions is caught, not timed."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import oracle_replay as orr
from engine import load_scenario, simulate
from engine.policies.oracle import Oracle
from engine.policies.registry import REGISTRY
from engine.scenario import Scenario
from engine.scenario.overrides import with_overrides

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def short_8vm() -> Scenario:
    """nvme_8vm_2x for 150 ms: long enough that the oracle reclaims, writes back and prefetches."""
    return with_overrides(load_scenario(ROOT / "scenarios/nvme_8vm_2x.toml"), ["duration_ms=150"])


def test_recording_changes_nothing_and_the_replay_is_the_same_run(short_8vm: Scenario) -> None:
    expected, log = orr.recorded_run(short_8vm)
    assert expected.summary == simulate(short_8vm, "oracle", record=False).summary
    services = {name for calls in log.steps for name, _, _ in calls}
    assert log.victims and {"prefetch", "write_back"} <= services, services
    replayed = orr.replayed_run(short_8vm, log, expected)
    assert replayed.summary == expected.summary
    assert REGISTRY["oracle"] is Oracle  # the registry is left as it was


def test_a_replay_of_other_decisions_is_caught(short_8vm: Scenario) -> None:
    expected, log = orr.recorded_run(short_8vm)
    # The same steps without their prefetches: the run goes another way (it asks for other
    # victims, or more of them, or ends on other figures), and the replay says so.
    log.steps = [[call for call in calls if call[0] != "prefetch"] for calls in log.steps]
    with pytest.raises(orr.ReplayDiverged):
        orr.replayed_run(short_8vm, log, expected)
    # Fewer decisions than the run asks for: a clear error, not a silent stop.
    _, log = orr.recorded_run(short_8vm)
    del log.steps[len(log.steps) // 2 :]
    with pytest.raises(orr.ReplayDiverged, match="more steps than the oracle's run made"):
        orr.replayed_run(short_8vm, log, expected)
    assert REGISTRY["oracle"] is Oracle
