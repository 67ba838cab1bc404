"""The do-no-harm grid (issue 13, item 5): where the scheduler's plan is wrong or partly wrong,
predictive paging must not run slower than demand paging by more than 5 %.

Two ways to make the plan wrong: `faults.plan_error_rate` hands the policy wrong planned slices
on nvme_8vm_2x (where the plan is otherwise right), and misprediction's VMs wake at random with
their bursts (`vms[i].activity.burst_ms`) scaled ×1, ×5, ×10: longer bursts fill more of each
slice, so the plan is right more often, and partly right is where a policy that trusts it harms.
Each cell is a ratio of slowdowns (predictive ÷ demand) per seed, with the same demand switches.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from engine.scenario import Scenario, with_overrides
from engine.simulator import simulate
from engine.stats import Interval, interval

PLAN_ERROR_RATES: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
BURST_FACTORS: tuple[int, ...] = (1, 5, 10)
SEEDS: tuple[int, ...] = (1, 2, 3, 4, 5)
NO_HARM_RATIO = 1.05  # predictive's slowdown at most 5 % above demand's


def burst_overrides(scenario: Scenario, factor: float) -> list[str]:
    """`--set` assignments scaling every VM's random-activity burst by `factor`."""
    return [
        f"vms[{i}].activity.burst_ms={vm.activity.burst_ms * factor}"
        for i, vm in enumerate(scenario.vms)
        if vm.activity.kind == "random"
    ]


@dataclass(frozen=True)
class Cell:
    """One grid cell over seeds: per-seed slowdown ratios and the figures behind them."""

    label: str
    ratios: tuple[float, ...]
    plan_accuracy: tuple[float, ...]
    pollution_faults: tuple[int, ...]

    @property
    def ratio(self) -> Interval:
        return interval(self.ratios)

    @property
    def worst(self) -> float:
        return max(self.ratios)


def demand_switches(policy: dict[str, Any]) -> dict[str, Any]:
    """Predictive's demand-paging fallbacks (victims, readahead), for the demand it is held to."""
    keys = ("victims", "readahead", "page_cluster")
    return {k: policy[k] for k in keys if k in policy}


def cell(
    scenario: Scenario,
    label: str,
    overrides: list[str],
    seeds: tuple[int, ...] = SEEDS,
    predictive: dict[str, Any] | None = None,
    memo: dict[str, dict[str, Any]] | None = None,
) -> Cell:
    """Predictive's slowdown ÷ demand's on `scenario` with `overrides`, for each seed.

    `memo` (optional) keeps each run's summary by its scenario and policy, so a second grid
    with other predictive switches does not run demand paging again."""
    pred_cfg = {"name": "predictive", **(predictive or {})}
    demand_cfg = {"name": "demand", **demand_switches(pred_cfg)}
    memo = {} if memo is None else memo

    def summary(s: Scenario, cfg: dict[str, Any]) -> dict[str, Any]:
        key = json.dumps([s.name, overrides, s.seed, s.duration_ms, cfg], sort_keys=True)
        if key not in memo:
            memo[key] = simulate(s, cfg, record=False).summary
        return memo[key]

    ratios, accuracy, pollution = [], [], []
    for seed in seeds:
        s = with_overrides(scenario, [*overrides, f"seed={seed}"])
        d = summary(s, demand_cfg)
        p = summary(s, pred_cfg)
        ratios.append(float(p["slowdown"]) / float(d["slowdown"]))
        accuracy.append(float(p["plan_accuracy"]))
        pollution.append(int(p["pollution_faults"]))
    return Cell(label, tuple(ratios), tuple(accuracy), tuple(pollution))
