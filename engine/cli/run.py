"""`vmswap run`: simulate a scenario under one or more policies; a table or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from engine.cli.arguments import add_scenario_arguments
from engine.scenario import load_scenario, with_overrides
from engine.simulator import simulate

TABLE_KEYS = (
    ("major_faults", "major faults", "{:,}"),
    ("minor_faults", "minor faults", "{:,}"),
    ("stall_fraction", "stall", "{:.1%}"),
    ("swap_in_pages", "swap-in pages", "{:,}"),
    ("swap_out_pages", "swap-out pages", "{:,}"),
    ("prefetch_accuracy", "prefetch accuracy", "{:.1%}"),
    ("plan_accuracy", "plan accuracy", "{:.1%}"),
    ("slowdown", "slowdown", "{:.3f}x"),
    ("references", "references", "{:,}"),
)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("run", help="simulate a scenario", description=__doc__)
    p.add_argument(
        "--policy",
        action="append",
        default=None,
        metavar="NAME",
        help="a registered policy (repeat for several; default: the scenario's own)",
    )
    add_scenario_arguments(
        p, set_help="override a field, e.g. --set host.pcpus=8 --set vms[0].memory_mib=512"
    )
    p.set_defaults(func=main)


def load_with_overrides(path: str, overrides: list[str]) -> Any:
    scenario = load_scenario(path)
    return with_overrides(scenario, overrides) if overrides else scenario


def fmt(value: Any, pattern: str) -> str:
    if value is None:
        return "-"
    return pattern.format(value)


def main(args: argparse.Namespace) -> int:
    scenario = load_with_overrides(args.scenario, args.overrides)
    policies = args.policy or [scenario.policy_name]
    runs = [simulate(scenario, name, record=False) for name in policies]
    if args.json:
        out = {"scenario": scenario.name, "runs": [r.to_json() for r in runs]}
        json.dump(out, sys.stdout, sort_keys=True)
        sys.stdout.write("\n")
        return 0
    print(
        f"{scenario.name}: {len(scenario.vms)} VMs, {scenario.host.pcpus} pCPUs, "
        f"{scenario.duration_ms:g} ms simulated"
    )
    width = max(len(label) for _, label, _ in TABLE_KEYS)
    print(" " * width + "".join(f"{r.policy:>16}" for r in runs))
    for key, label, pattern in TABLE_KEYS:
        cells = "".join(f"{fmt(r.summary.get(key), pattern):>16}" for r in runs)
        print(f"{label:<{width}}{cells}")
    return 0
