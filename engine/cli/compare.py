"""`vmswap compare`: two policies on the same scenario and reference streams, side by side.

`--set policy.X=V` sets switch X of each compared policy that has it (an error if neither
does); other `--set` paths change the scenario. Coverage (faults removed ÷ demand paging's
faults) is measured against a demand run of the same scenario.
"""

from __future__ import annotations

import argparse
from typing import Any

from engine.cli.common import add_scenario_arguments, fmt, header, load_with_overrides, print_json
from engine.cli.switches import policy_config, split_overrides
from engine.policies import validate_policy
from engine.scenario import Scenario
from engine.simulator import Simulation, baseline_references

ROWS = (
    ("major_faults", "major faults", "{:,}"),
    ("stall_ms", "stall, ms", "{:,.1f}"),
    ("stall_fraction", "stall fraction", "{:.1%}"),
    ("lost_ms", "lost time (stall + gating), ms", "{:,.1f}"),
    ("slowdown", "slowdown", "{:.3f}x"),
    ("swap_in_pages", "swap-in pages", "{:,}"),
    ("swap_out_pages", "swap-out pages", "{:,}"),
    ("prefetch_issued", "prefetches issued", "{:,}"),
    ("prefetch_accuracy", "prefetch accuracy", "{:.1%}"),
    ("coverage", "coverage", "{:.1%}"),
    ("prefetch_timeliness", "timeliness", "{:.1%}"),
    ("pollution_faults", "pollution faults", "{:,}"),
    ("prefetch_wasted", "wasted prefetches", "{:,}"),
    ("plan_accuracy", "plan accuracy", "{:.1%}"),
    ("gating_delay_ms", "gating delay, ms", "{:,.1f}"),
    ("gated_dispatches", "gated dispatches", "{:,}"),
    ("device_utilisation", "device utilisation", "{:.1%}"),
    ("pages_read_per_kref", "pages read / 1,000 refs", "{:,.2f}"),
    ("pages_written_per_kref", "pages written / 1,000 refs", "{:,.2f}"),
    ("mb_written_per_s", "MB written / simulated s", "{:,.1f}"),
    ("mean_lead_ms", "mean restore lead, ms", "{:.2f}"),
    ("references", "references", "{:,}"),
)
VM_KEYS = ("major_faults", "stall_ns", "lost_ns", "references", "slowdown", "gating_delay_ns")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "compare", help="two policies side by side on one scenario", description=__doc__
    )
    p.add_argument("--a", default="demand", metavar="POLICY", help="first policy (demand)")
    p.add_argument("--b", default="predictive", metavar="POLICY", help="second (predictive)")
    add_scenario_arguments(
        p, set_help="a scenario field, or policy.SWITCH for the compared policies that have it"
    )
    p.set_defaults(func=main)


def run_policy(scenario: Scenario, cfg: dict[str, Any]) -> dict[str, Any]:
    """One run: the summary and per-VM figures, plus what the policy itself reports."""
    base = baseline_references(scenario)
    sim = Simulation(scenario, cfg, record=False)
    while sim.step():
        pass
    result = sim.finish(base)
    stats = dict(getattr(sim.policy, "stats", {}) or {})
    summary = dict(result.summary)
    summary["stall_ms"] = summary["stall_ns"] / 1e6
    summary["gating_delay_ms"] = summary["gating_delay_ns"] / 1e6
    summary["lost_ms"] = summary["lost_ns"] / 1e6
    summary["mb_written_per_s"] = summary["bytes_written_per_s"] / 1e6
    if stats.get("restores"):
        summary["mean_lead_ms"] = stats["lead_ns_total"] / stats["restores"] / 1e6
    return {
        "policy": cfg["name"],
        "config": cfg,
        "summary": summary,
        "vms": result.vms,
        "stats": stats,
    }


def add_coverage(run: dict[str, Any], demand: dict[str, Any]) -> None:
    """Coverage: the share of demand paging's major faults this run did not take."""
    base = demand["summary"]["major_faults"]
    run["summary"]["coverage"] = (
        round((base - run["summary"]["major_faults"]) / base, 6) if base else 0.0
    )


def delta(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """b − a for every number both have."""
    out = {}
    for key, va in a.items():
        vb = b.get(key)
        numbers = isinstance(va, int | float) and isinstance(vb, int | float)
        if numbers and not isinstance(va, bool) and not isinstance(vb, bool):
            d = vb - va
            out[key] = round(d, 6) if isinstance(d, float) else d
    return out


def compare(scenario: Scenario, a_cfg: dict[str, Any], b_cfg: dict[str, Any]) -> dict[str, Any]:
    """Both runs, coverage against demand paging, and the differences (host and per VM)."""
    a = run_policy(scenario, a_cfg)
    b = run_policy(scenario, b_cfg)
    if a_cfg["name"] == "demand":
        demand = a
    elif b_cfg["name"] == "demand":
        demand = b
    else:
        demand = run_policy(scenario, validate_policy({"name": "demand"}))
    for run in (a, b):
        add_coverage(run, demand)
    per_vm = [
        {"name": va["name"], **{k: v for k, v in delta(va, vb).items() if k in VM_KEYS}}
        for va, vb in zip(a["vms"], b["vms"], strict=True)
    ]
    return {
        "scenario": scenario.name,
        "a": a,
        "b": b,
        "delta": {**delta(a["summary"], b["summary"]), "vms": per_vm},
    }


def main(args: argparse.Namespace) -> int:
    scenario_sets, switches = split_overrides(
        args.overrides, [args.a, args.b], "choose the policies with --a and --b"
    )
    scenario = load_with_overrides(args.scenario, scenario_sets)
    a_cfg = policy_config(scenario, args.a, switches)
    b_cfg = policy_config(scenario, args.b, switches)
    out = compare(scenario, a_cfg, b_cfg)
    if args.json:
        print_json(out)
        return 0
    print(header(scenario))
    width = max(len(label) for _, label, _ in ROWS)
    print(f"{'':<{width}}{out['a']['policy']:>16}{out['b']['policy']:>16}{'b - a':>16}")
    for key, label, pattern in ROWS:
        va, vb = out["a"]["summary"].get(key), out["b"]["summary"].get(key)
        d = out["delta"].get(key)
        print(
            f"{label:<{width}}{fmt(va, pattern):>16}{fmt(vb, pattern):>16}"
            f"{fmt(d, pattern.replace('{:', '{:+')):>16}"
        )
    return 0
