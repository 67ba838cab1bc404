"""`vmswap ablate`: what each mechanism of `predictive` contributes, each switched off in turn.

Runs demand paging, predictive with every mechanism on, predictive with no scheduling
information (horizon 0, which is demand paging exactly), and predictive with one mechanism off
per row, all on the same scenario and reference streams.
"""

from __future__ import annotations

import argparse
from typing import Any

from engine.cli.common import add_scenario_arguments, fmt, header, load_with_overrides, print_json
from engine.cli.compare import add_coverage, run_policy
from engine.cli.switches import policy_config, split_overrides
from engine.policies.predictive import MECHANISMS
from engine.scenario import Scenario

COLUMNS = (
    ("major_faults", "major", "{:,}"),
    ("stall_ms", "stall ms", "{:,.1f}"),
    ("lost_ms", "lost ms", "{:,.1f}"),
    ("slowdown", "slowdown", "{:.3f}"),
    ("swap_in_pages", "swap-in", "{:,}"),
    ("prefetch_accuracy", "accuracy", "{:.1%}"),
    ("coverage", "coverage", "{:.1%}"),
    ("gating_delay_ms", "gating ms", "{:,.1f}"),
    ("device_utilisation", "device", "{:.1%}"),
)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "ablate", help="switch off each predictive mechanism in turn", description=__doc__
    )
    add_scenario_arguments(p, set_help="a scenario field, or policy.SWITCH for predictive")
    p.set_defaults(func=main)


def variants(switches: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(label, policy, switches) of every run of the ablation, in table order."""
    rows = [
        ("demand", "demand", {}),
        ("predictive", "predictive", dict(switches)),
        ("horizon 0", "predictive", {**switches, "horizon_ms": 0.0}),
    ]
    rows += [(f"no {m}", "predictive", {**switches, m: False}) for m in MECHANISMS]
    return rows


def ablate(scenario: Scenario, switches: dict[str, Any]) -> dict[str, Any]:
    """Every variant's summary, with coverage against the demand run."""
    runs = []
    for label, name, sw in variants(switches):
        run = run_policy(scenario, policy_config(scenario, name, sw))
        run["variant"] = label
        runs.append(run)
    for run in runs:
        add_coverage(run, runs[0])
    return {"scenario": scenario.name, "mechanisms": list(MECHANISMS), "runs": runs}


def main(args: argparse.Namespace) -> int:
    scenario_sets, switches = split_overrides(
        args.overrides, ["predictive"], "ablate always runs demand and predictive"
    )
    scenario = load_with_overrides(args.scenario, scenario_sets)
    out = ablate(scenario, switches)
    if args.json:
        print_json(out)
        return 0
    print(header(scenario))
    width = max(len(r["variant"]) for r in out["runs"]) + 2
    print(f"{'':<{width}}" + "".join(f"{label:>12}" for _, label, _ in COLUMNS))
    for run in out["runs"]:
        cells = "".join(f"{fmt(run['summary'].get(k), p):>12}" for k, _, p in COLUMNS)
        print(f"{run['variant']:<{width}}{cells}")
    return 0
