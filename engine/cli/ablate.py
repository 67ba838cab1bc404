"""`vmswap ablate`: what each mechanism of `predictive` contributes, each switched off in turn.

Runs demand paging, predictive with every mechanism on, predictive with no scheduling
information (horizon 0, which is demand paging exactly), and predictive with one mechanism off
per row, all on the same scenario and reference streams.

Over `--seeds N` seeds (the scenario's seed and the N − 1 after it) each cell is the mean ±
the half-width of its 95 % interval, and the last column is the paired interval of the
variant's lost time minus full predictive's: what switching that mechanism off costs.
"""

from __future__ import annotations

import argparse
from typing import Any

from engine.cli.common import (
    add_scenario_arguments,
    add_seed_arguments,
    header,
    interval_cell,
    load_with_overrides,
    print_aligned,
    print_json,
    range_cell,
    seed_list,
    with_seed,
)
from engine.cli.compare import add_coverage, run_policy
from engine.cli.switches import policy_config, split_overrides
from engine.phases import WARMUP_SHARE
from engine.policies.predictive import MECHANISMS
from engine.scenario import Scenario
from engine.stats import verdict, verdict_json

COLUMNS = (
    ("lost_time_ms", "lost ms", "{:,.1f}"),
    ("steady_lost_time_ms", "steady lost ms", "{:,.1f}"),
    ("major_faults", "major", "{:,.0f}"),
    ("slowdown", "slowdown", "{:.3f}"),
    ("coverage", "coverage", "{:.1%}"),
    ("gating_delay_ms", "gating ms", "{:,.1f}"),
)
HEADLINE = "lost_time_ms"  # the column the last, paired, column is of
REFERENCE = "predictive"  # the variant every other is paired against


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "ablate", help="switch off each predictive mechanism in turn", description=__doc__
    )
    add_seed_arguments(p, WARMUP_SHARE)
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


def ablate(
    scenario: Scenario, switches: dict[str, Any], warmup_share: float = WARMUP_SHARE
) -> dict[str, Any]:
    """Every variant's summary on one seed, with coverage against the demand run."""
    runs = []
    for label, name, sw in variants(switches):
        run = run_policy(scenario, policy_config(scenario, name, sw), warmup_share)
        run["variant"] = label
        runs.append(run)
    for run in runs:
        add_coverage(run, runs[0])
    return {"scenario": scenario.name, "mechanisms": list(MECHANISMS), "runs": runs}


def ablate_seeds(
    scenario: Scenario,
    switches: dict[str, Any],
    seeds: list[int],
    warmup_share: float = WARMUP_SHARE,
) -> dict[str, Any]:
    """`ablate` on each seed: the first seed's runs in full (runs), and per variant the
    intervals of every numeric summary key (intervals[v][key]["b"]) and of the paired
    difference from full predictive (intervals[v][key]["delta"])."""
    per_seed = [ablate(with_seed(scenario, s), switches, warmup_share) for s in seeds]
    labels = [r["variant"] for r in per_seed[0]["runs"]]
    summaries = {
        v: [next(r["summary"] for r in one["runs"] if r["variant"] == v) for one in per_seed]
        for v in labels
    }
    intervals = {
        v: {
            k: {"mean": sides["b"], "delta": sides["delta"]}
            for k, sides in verdict_json(verdict(summaries[REFERENCE], summaries[v])).items()
        }
        for v in labels
    }
    return {
        **per_seed[0],
        "seeds": seeds,
        "warmup_ms": per_seed[0]["runs"][0]["warmup_ms"],
        "per_seed": [
            {"seed": s, **{v: summaries[v][i] for v in labels}} for i, s in enumerate(seeds)
        ],
        "intervals": intervals,
    }


def main(args: argparse.Namespace) -> int:
    scenario_sets, switches = split_overrides(
        args.overrides, ["predictive"], "ablate always runs demand and predictive"
    )
    scenario = load_with_overrides(args.scenario, scenario_sets)
    seeds = seed_list(scenario, args.seeds)
    out = ablate_seeds(scenario, switches, seeds, args.warmup_share)
    if args.json:
        print_json(out)
        return 0
    print(header(scenario))
    print(
        f"seeds {', '.join(map(str, seeds))}: mean ± half-width of the 95% interval; "
        f"warm-up is the first {out['warmup_ms']:g} ms; last column: paired {REFERENCE} "
        "difference"
    )
    head_pattern = next(p for k, _, p in COLUMNS if k == HEADLINE)
    heads = ["", *(label for _, label, _ in COLUMNS), f"lost ms - {REFERENCE}"]
    rows = [heads]
    for v, figures in out["intervals"].items():
        cells = [interval_cell(figures.get(k, {}).get("mean"), p) for k, _, p in COLUMNS]
        rows.append([v, *cells, range_cell(figures[HEADLINE]["delta"], head_pattern)])
    print_aligned(rows)
    return 0
