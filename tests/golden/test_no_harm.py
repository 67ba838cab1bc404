"""Do no harm (issue 13, item 5), on a small grid: where the plan is wrong or partly wrong,
predictive's slowdown stays within 5 % of demand paging's on every seed, with the shipped
back-off (on measured benefit) and the older one on plan accuracy (the full grid, seeds 1-5
over 1.5 s, is benchmarks/no_harm.py's, in docs/results.md)."""

from __future__ import annotations

from typing import Any

import pytest

from engine.no_harm import NO_HARM_RATIO, burst_overrides, cell
from engine.scenario import load_scenario
from tests.conftest import SCENARIOS

pytestmark = pytest.mark.slow
SHORT = "duration_ms=500"
BENEFIT = {"backoff_on": "benefit"}
RUNS: dict[str, dict[str, Any]] = {}  # each run's summary, shared by the tests below


@pytest.mark.parametrize("backoff_on", ["plan", "benefit"])
@pytest.mark.parametrize("rate", [0.3, 0.5])
def test_with_wrong_planned_slices_predictive_is_never_5pct_slower(
    rate: float, backoff_on: str
) -> None:
    """nvme_8vm_2x handed wrong planned slices (plan_error_rate 0.3, 0.5), seeds 1 and 2,
    with either back-off."""
    scenario = load_scenario(SCENARIOS / "nvme_8vm_2x.toml")
    overrides = [f"faults.plan_error_rate={rate}", SHORT]
    got = cell(scenario, f"rate {rate}", overrides, (1, 2), {"backoff_on": backoff_on}, RUNS)
    assert got.worst <= NO_HARM_RATIO, got


@pytest.mark.xfail(
    strict=True,
    reason="in misprediction's first 500 ms with bursts x10, seed 2, predictive's slowdown is "
    "1.077x demand's (plan accuracy 67.5 %, 2,277 pollution faults; seed 1: 0.925x); over the "
    "whole 1.5 s run the worst of seeds 1-5 is 1.044x. The back-off judges the plan, not the "
    "benefit; the removed ledger (benefit_backoff) made this case worse (1.689 against demand's "
    "1.564 on 1.5 s, seed 2), and backoff_on = benefit is the plan back-off here (at 1.14x its "
    "shadow LRU is not trusted)",
)
def test_with_random_wake_ups_and_long_bursts_predictive_is_never_5pct_slower() -> None:
    """misprediction with bursts ×10 (the plan is partly right), seeds 1 and 2."""
    scenario = load_scenario(SCENARIOS / "misprediction.toml")
    got = cell(scenario, "bursts x10", [*burst_overrides(scenario, 10), SHORT], (1, 2))
    assert got.worst <= NO_HARM_RATIO, got


@pytest.mark.xfail(
    strict=True,
    reason="at real 2x overcommit with plan_error_rate 0.4, seed 3, over the whole 1.5 s, "
    "predictive's slowdown is 2.189x demand paging's (plan accuracy 59.5 %, 17,836 pollution "
    "faults): the older plan-accuracy back-off (backoff_on = plan) does not keep it from "
    "harm there; the shipped one on measured benefit does (the test below)",
)
def test_at_real_2x_with_40pct_wrong_slices_the_plan_backoff_is_never_5pct_slower() -> None:
    """nvme_8vm_2x, plan_error_rate 0.4, seed 3, the whole run (the grid's worst cell), with
    the older back-off on plan accuracy."""
    scenario = load_scenario(SCENARIOS / "nvme_8vm_2x.toml")
    plan = {"backoff_on": "plan"}
    got = cell(scenario, "rate 0.4", ["faults.plan_error_rate=0.4"], (3,), plan, RUNS)
    assert got.worst <= NO_HARM_RATIO, got


def test_at_real_2x_the_benefit_backoff_does_no_harm_where_the_plan_backoff_did() -> None:
    """nvme_8vm_2x, plan_error_rate 0.4, seed 3, the whole run, backoff_on = benefit: the
    shadow of demand paging shows the restores still pay, so it stays within 5 %."""
    scenario = load_scenario(SCENARIOS / "nvme_8vm_2x.toml")
    got = cell(scenario, "rate 0.4", ["faults.plan_error_rate=0.4"], (3,), BENEFIT, RUNS)
    assert got.worst <= NO_HARM_RATIO, got


def test_at_real_2x_with_half_the_slices_wrong_the_benefit_backoff_does_no_harm() -> None:
    """nvme_8vm_2x, plan_error_rate 0.5, seed 1, the whole run, backoff_on = benefit (its
    stand-downs keep restoring; when they stopped restores too this seed was 1.353x)."""
    scenario = load_scenario(SCENARIOS / "nvme_8vm_2x.toml")
    got = cell(scenario, "rate 0.5", ["faults.plan_error_rate=0.5"], (1,), BENEFIT, RUNS)
    assert got.worst <= NO_HARM_RATIO, got
