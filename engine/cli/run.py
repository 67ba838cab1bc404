"""`vmswap run`: simulate a scenario under one or more policies; a table or JSON.

Without `--policy` the scenario's own policy runs, and `--set policy.X=V` is a scenario field
like any other (`--set policy.name=oracle` chooses another policy, which then starts from its
own defaults). With `--policy`, `--set policy.X=V` sets switch X of each named policy that has
it, as in `vmswap compare`.
"""

from __future__ import annotations

import argparse
from typing import Any

from engine.baseline_beside import simulate_beside
from engine.cli.common import add_scenario_arguments, fmt, header, load_with_overrides, print_json
from engine.cli.switches import policy_config, split_overrides

TABLE_KEYS = (
    ("major_faults", "major faults", "{:,}"),
    ("minor_faults", "minor faults", "{:,}"),
    ("stall_fraction", "stall", "{:.1%}"),
    ("lost_time_ns", "lost time, ms", "{:,.1f}"),
    ("swap_in_pages", "swap-in pages", "{:,}"),
    ("swap_out_pages", "swap-out pages", "{:,}"),
    ("prefetch_accuracy", "prefetch accuracy", "{:.1%}"),
    ("plan_accuracy", "plan accuracy", "{:.1%}"),
    ("slowdown", "slowdown", "{:.3f}x"),
    ("pages_read_per_kref", "pages read / 1k refs", "{:,.2f}"),
    ("pages_written_per_kref", "pages written / 1k refs", "{:,.2f}"),
    ("bytes_written_per_s", "MB written / sim. s", "{:,.1f}"),
    ("references", "references", "{:,}"),
)
# Figures the summary keeps in ns or bytes, shown in ms or MB.
SCALE = {"lost_time_ns": 1e6, "bytes_written_per_s": 1e6}


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
        p,
        set_help="override a field, e.g. --set host.pcpus=8 --set vms[0].memory_mib=512; "
        "with --policy, policy.SWITCH sets that switch of each named policy that has it",
    )
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if args.policy:
        scenario_sets, switches = split_overrides(
            args.overrides, args.policy, "choose the policies with --policy"
        )
        scenario = load_with_overrides(args.scenario, scenario_sets)
        configs = [policy_config(scenario, name, switches) for name in args.policy]
    else:
        scenario = load_with_overrides(args.scenario, args.overrides)
        configs = [scenario.policy]
    # The same runs as simulate(scenario, cfg, record=False), the baseline beside them.
    runs = simulate_beside(scenario, configs)
    if args.json:
        print_json({"scenario": scenario.name, "runs": [r.to_json() for r in runs]})
        return 0
    print(header(scenario))
    width = max(len(label) for _, label, _ in TABLE_KEYS)
    print(" " * width + "".join(f"{r.policy:>16}" for r in runs))
    for key, label, pattern in TABLE_KEYS:
        cells = "".join(f"{fmt(scaled(r.summary, key), pattern):>16}" for r in runs)
        print(f"{label:<{width}}{cells}")
    return 0


def scaled(summary: dict[str, Any], key: str) -> Any:
    """A summary figure in the unit its row shows."""
    value = summary.get(key)
    return value / SCALE[key] if value is not None and key in SCALE else value
