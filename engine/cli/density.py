"""`vmswap density`: the most VMs per host that meet a slowdown target, per policy, over seeds."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from engine.cli.common import load_with_overrides, print_json
from engine.density import check_request, evaluate_here, find_density
from engine.errors import VmswapError
from engine.sweep import MAX_VMS, Run, execute, open_client, parse_policy_spec


def register(subparsers: Any) -> None:
    """Add the `density` sub-command."""
    p = subparsers.add_parser(
        "density",
        help="the most VMs that meet a slowdown target, per policy",
        description=__doc__,
    )
    p.add_argument("scenario", help="a scenario TOML file; its VMs are replicated in turn")
    p.add_argument(
        "--target-slowdown",
        type=float,
        required=True,
        metavar="X",
        help="the most slowdown allowed, e.g. 1.10 (10%% less work than with unlimited memory)",
    )
    p.add_argument(
        "--policies",
        metavar="LIST",
        help="comma list of NAME or NAME:KEY=VALUE[:KEY=VALUE] (default: the scenario's own)",
    )
    p.add_argument("--seeds", type=int, default=3, metavar="N", help="seeds 1..N (default 3)")
    p.add_argument(
        "--max-vms", type=int, default=64, metavar="M", help="the most VMs tried (default 64)"
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        dest="overrides",
        help="override a scenario field first, e.g. --set duration_ms=300",
    )
    p.add_argument("--cluster", metavar="ADDRESS", help="an existing Dask scheduler")
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="local cluster worker processes (default: one per CPU; 0 runs in this process)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=main)


def parse_policies(text: str | None) -> list[dict[str, Any]]:
    if text is None:
        return []
    specs = [parse_policy_spec(part) for part in text.split(",") if part.strip()]
    if not specs:
        raise VmswapError(f"--policies: got {text!r}, expected a comma list of policy names")
    return specs


def main(args: argparse.Namespace) -> int:
    """Search each policy and seed; a table or JSON on stdout."""
    if not 1 <= args.seeds <= 1000:
        raise VmswapError(f"--seeds: {args.seeds} is not allowed; expected 1 to 1000")
    if not 1 <= args.max_vms <= MAX_VMS:
        raise VmswapError(f"--max-vms: {args.max_vms} is not allowed; expected 1 to {MAX_VMS}")
    if args.workers is not None and args.cluster:
        raise VmswapError("--workers sizes the local cluster; do not give it with --cluster")
    if args.workers is not None and not 0 <= args.workers <= 1024:
        raise VmswapError(f"--workers: {args.workers} is not allowed; expected 0 to 1024")
    scenario = load_with_overrides(args.scenario, args.overrides)
    policies = parse_policies(args.policies)
    seeds = list(range(1, args.seeds + 1))
    check_request(scenario, args.target_slowdown, policies, seeds, args.max_vms)

    def on_round(round_no: int, n: int) -> None:
        sys.stderr.write(f"density: round {round_no}, {n} runs\n")

    def search(evaluate: Any) -> Any:
        return find_density(
            scenario,
            args.target_slowdown,
            policies=policies,
            seeds=seeds,
            max_vms=args.max_vms,
            evaluate=evaluate,
            on_round=on_round,
        )

    if args.workers == 0:
        results = search(evaluate_here)
    else:
        with open_client(args.cluster, args.workers) as client:

            def on_cluster(runs: Sequence[Run]) -> Mapping[str, Mapping[str, Any]]:
                out: dict[str, Mapping[str, Any]] = {}
                execute(runs, client, lambda run, rec: out.__setitem__(run.key, rec["summary"]))
                return out

            results = search(on_cluster)
    if args.json:
        doc = {
            "scenario": scenario.name,
            "target_slowdown": args.target_slowdown,
            "max_vms": args.max_vms,
            "policies": [r.to_json() for r in results],
        }
        print_json(doc)
        return 0
    print(
        f"{scenario.name}: the most VMs with slowdown ≤ {args.target_slowdown:g}, "
        f"seeds 1–{args.seeds}, up to {args.max_vms} VMs"
    )
    width = max(len("policy"), *(len(r.policy) for r in results))
    print(f"{'policy':<{width}}  {'median':>6}  {'min':>4}  {'max':>4}  per seed")
    for r in results:
        st = r.stats()
        per_seed = ", ".join(
            f"{'≥' if capped else ''}{d}" for d, capped in zip(r.densities, r.capped, strict=True)
        )
        print(
            f"{r.policy:<{width}}  {st['median']:>6g}  {st['min']:>4}  {st['max']:>4}  {per_seed}"
        )
    if any(any(r.capped) for r in results):
        print(f"≥: every count up to --max-vms {args.max_vms} met the target")
    return 0
