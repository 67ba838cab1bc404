"""`vmswap compare`: two policies on the same scenario and reference streams, side by side,
over several seeds.

`--set policy.X=V` sets switch X of each compared policy that has it (an error if neither
does); other `--set` paths change the scenario. Coverage (faults removed ÷ demand paging's
faults) is measured against a demand run of the same scenario and seed. `--best-demand`
replaces demand paging by its best readahead setting for the scenario (engine.best_demand),
chosen on the scenario's own seed and kept for the others.

The verdict is stated over `--seeds N` seeds (the scenario's seed and the N − 1 after it):
for each metric the mean ± the half-width of its 95 % interval under A and under B, and the
mean and 95 % interval of the paired difference B − A (engine.stats). Warm-up and steady
state are apart (engine.phases): the first fifth of the simulated time is warm-up.
"""

from __future__ import annotations

import argparse
from typing import Any

from engine.best_demand import best_demand, setting_label
from engine.cli.common import (
    add_scenario_arguments,
    add_seed_arguments,
    header,
    load_with_overrides,
    print_aligned,
    print_json,
    seed_list,
    verdict_rows,
    with_seed,
)
from engine.cli.switches import policy_config, split_overrides
from engine.errors import ScenarioError, did_you_mean
from engine.phases import WARMUP_SHARE, run_phased
from engine.policies import validate_policy
from engine.scenario import Scenario
from engine.stats import numeric_keys, verdict, verdict_json

# The table's rows, in order: (summary key, label, pattern for a mean). The headline, lost
# time (stall plus time held at dispatch), comes first, whole run then its two parts.
ROWS = (
    ("lost_time_ms", "lost time, ms", "{:,.1f}"),
    ("warmup_lost_time_ms", "  warm-up", "{:,.1f}"),
    ("steady_lost_time_ms", "  steady state", "{:,.1f}"),
    ("stall_ms", "stall, ms", "{:,.1f}"),
    ("slowdown", "slowdown", "{:.3f}"),
    ("warmup_slowdown", "  warm-up", "{:.3f}"),
    ("steady_slowdown", "  steady state", "{:.3f}"),
    ("major_faults", "major faults", "{:,.0f}"),
    ("warmup_major_faults", "  warm-up", "{:,.0f}"),
    ("steady_major_faults", "  steady state", "{:,.0f}"),
    ("stall_fraction", "stall fraction", "{:.1%}"),
    ("swap_in_pages", "swap-in pages", "{:,.0f}"),
    ("swap_out_pages", "swap-out pages", "{:,.0f}"),
    ("prefetch_issued", "prefetches issued", "{:,.0f}"),
    ("prefetch_accuracy", "prefetch accuracy", "{:.1%}"),
    ("coverage", "coverage", "{:.1%}"),
    ("prefetch_timeliness", "timeliness", "{:.1%}"),
    ("pollution_faults", "pollution faults", "{:,.0f}"),
    ("prefetch_wasted", "wasted prefetches", "{:,.0f}"),
    ("plan_accuracy", "plan accuracy", "{:.1%}"),
    ("gating_delay_ms", "gating delay, ms", "{:,.1f}"),
    ("gated_dispatches", "gated dispatches", "{:,.0f}"),
    ("device_utilisation", "device utilisation", "{:.1%}"),
    ("pages_read_per_kref", "pages read / 1,000 refs", "{:,.2f}"),
    ("pages_written_per_kref", "pages written / 1,000 refs", "{:,.2f}"),
    ("bytes_written_per_s", "bytes written / simulated s", "{:,.0f}"),
    ("mean_lead_ms", "mean restore lead, ms", "{:.2f}"),
    ("references", "references", "{:,.0f}"),
)
VM_KEYS = ("major_faults", "stall_ns", "lost_time_ns", "references", "slowdown", "gating_delay_ns")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "compare", help="two policies side by side on one scenario", description=__doc__
    )
    p.add_argument("--a", default="demand", metavar="POLICY", help="first policy (demand)")
    p.add_argument("--b", default="predictive", metavar="POLICY", help="second (predictive)")
    p.add_argument(
        "--best-demand",
        action="store_true",
        help="judge against demand paging with the readahead setting that loses least here",
    )
    p.add_argument(
        "--metric",
        action="append",
        default=[],
        metavar="KEY",
        help="add a row for this numeric summary key (repeatable)",
    )
    add_seed_arguments(p, WARMUP_SHARE)
    add_scenario_arguments(
        p, set_help="a scenario field, or policy.SWITCH for the compared policies that have it"
    )
    p.set_defaults(func=main)


def run_policy(
    scenario: Scenario, cfg: dict[str, Any], warmup_share: float = WARMUP_SHARE
) -> dict[str, Any]:
    """One run: the summary (with its warm-up and steady-state figures, engine.phases) and
    per-VM figures, plus what the policy itself reports."""
    run = run_phased(scenario, cfg, warmup_share)
    stats = run.policy_stats
    summary = dict(run.result.summary)
    summary["stall_ms"] = summary["stall_ns"] / 1e6
    summary["gating_delay_ms"] = summary["gating_delay_ns"] / 1e6
    summary["lost_time_ms"] = summary["lost_time_ns"] / 1e6
    summary.update(run.phases)
    if stats.get("restores"):
        summary["mean_lead_ms"] = stats["lead_ns_total"] / stats["restores"] / 1e6
    return {
        "policy": cfg["name"],
        "config": cfg,
        "summary": summary,
        "vms": run.result.vms,
        "stats": stats,
        "warmup_ms": run.split_ns / 1e6,
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


def compare(
    scenario: Scenario,
    a_cfg: dict[str, Any],
    b_cfg: dict[str, Any],
    warmup_share: float = WARMUP_SHARE,
) -> dict[str, Any]:
    """Both runs, coverage against demand paging, and the differences (host and per VM)."""
    a = run_policy(scenario, a_cfg, warmup_share)
    b = run_policy(scenario, b_cfg, warmup_share)
    if a_cfg["name"] == "demand":
        demand = a
    elif b_cfg["name"] == "demand":
        demand = b
    else:
        demand = run_policy(scenario, validate_policy({"name": "demand"}), warmup_share)
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


def compare_seeds(
    scenario: Scenario,
    a_cfg: dict[str, Any],
    b_cfg: dict[str, Any],
    seeds: list[int],
    warmup_share: float = WARMUP_SHARE,
) -> dict[str, Any]:
    """`compare` on each seed, in order. The first seed's runs in full (a, b, delta), every
    seed's summaries (per_seed), and the intervals of every numeric summary key."""
    runs = [compare(with_seed(scenario, s), a_cfg, b_cfg, warmup_share) for s in seeds]
    a = [r["a"]["summary"] for r in runs]
    b = [r["b"]["summary"] for r in runs]
    return {
        **runs[0],
        "seeds": seeds,
        "warmup_ms": runs[0]["a"]["warmup_ms"],
        "per_seed": [{"seed": s, "a": x, "b": y} for s, x, y in zip(seeds, a, b, strict=True)],
        "intervals": verdict_json(verdict(a, b)),
    }


def table_rows(extra: list[str]) -> list[tuple[str, str, str]]:
    """ROWS, then a row for each `--metric` key ROWS lacks."""
    known = {k for k, _, _ in ROWS}
    return [*ROWS, *((k, k, "{:,.4g}") for k in extra if k not in known)]


def check_metrics(extra: list[str], summary: dict[str, Any]) -> None:
    """Every `--metric` key is a number in the summary, or one line says which is not."""
    numeric = numeric_keys([summary])
    for key in extra:
        if key not in numeric:
            raise ScenarioError(
                f"--metric {key!r} is not a numeric summary figure{did_you_mean(key, numeric)}",
                field="--metric",
            )


def print_verdict(out: dict[str, Any], rows: list[tuple[str, str, str]]) -> None:
    """metric | A mean ± half-width | B mean ± half-width | B − A mean [lo, hi]."""
    cells = verdict_rows(out["intervals"], rows)
    heads = ["", out["a"]["policy"], out["b"]["policy"], "b - a [95% interval]"]
    print_aligned([heads, *cells])


def main(args: argparse.Namespace) -> int:
    scenario_sets, switches = split_overrides(
        args.overrides, [args.a, args.b], "choose the policies with --a and --b"
    )
    scenario = load_with_overrides(args.scenario, scenario_sets)
    a_cfg = policy_config(scenario, args.a, switches)
    b_cfg = policy_config(scenario, args.b, switches)
    tuned: dict[str, Any] | None = None
    if args.best_demand:
        if "demand" not in (args.a, args.b):
            raise ScenarioError("--best-demand needs demand as --a or --b", field="--best-demand")
        chosen, candidates = best_demand(scenario, a_cfg if args.a == "demand" else b_cfg)
        a_cfg, b_cfg = (chosen if c["name"] == "demand" else c for c in (a_cfg, b_cfg))
        tuned = {"chosen": chosen, "candidates": candidates}
    seeds = seed_list(scenario, args.seeds)
    out = compare_seeds(scenario, a_cfg, b_cfg, seeds, args.warmup_share)
    check_metrics(args.metric, out["a"]["summary"])
    if tuned is not None:
        out["best_demand"] = tuned
    if args.json:
        print_json(out)
        return 0
    print(header(scenario))
    print(
        f"seeds {', '.join(map(str, seeds))}: mean ± half-width of the 95% interval "
        f"(Student's t); warm-up is the first {out['warmup_ms']:g} ms"
    )
    if tuned is not None:
        tried = ", ".join(f"{c['label']} {c['lost_time_ms']:,.1f}" for c in tuned["candidates"])
        print(
            f"best demand: readahead {setting_label(tuned['chosen'])} "
            f"(lost ms, seed {seeds[0]}: {tried})"
        )
    print_verdict(out, table_rows(args.metric))
    if len(seeds) > 1 and seeds_alike(out["per_seed"]):
        print(
            f"every one of the {len(seeds)} seeds gave the same figures: nothing in this "
            "scenario depends on the seed, so the intervals have no width and more seeds "
            "would add nothing"
        )
    return 0


def seeds_alike(per_seed: list[dict[str, Any]]) -> bool:
    """Whether every seed's A and B summaries hold the same numbers as the first seed's (a
    scenario with nothing random in it: traces replayed on a fixed schedule, no injected
    device faults)."""
    first = per_seed[0]
    keys = {side: numeric_keys([r[side] for r in per_seed]) for side in ("a", "b")}
    return all(
        r[side][k] == first[side][k] for r in per_seed for side in ("a", "b") for k in keys[side]
    )
