"""The headline of issue 13 (item 8) on nvme_8vm_2x over seeds 1-5: predictive's lost time
against the best demand paging's, and against the schedule-oracle's in steady state.

    .venv/bin/python benchmarks/headline.py [--seeds 1,2,3,4,5] [--scenario nvme_8vm_2x]
        [--policy-set backoff_on=plan ...]

Best demand: the readahead setting that loses least on the first seed (engine.best_demand),
kept for the others. Prints per-seed lost times and the mean and 95 % interval of each ratio.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.best_demand import best_demand, setting_label  # noqa: E402
from engine.cli.common import with_seed  # noqa: E402
from engine.cli.compare import run_policy  # noqa: E402
from engine.policies import validate_policy  # noqa: E402
from engine.scenario import load_scenario  # noqa: E402
from engine.stats import interval  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--scenario", default="nvme_8vm_2x")
    parser.add_argument(
        "--policy-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting of predictive and schedule-oracle (both), e.g. backoff_on=plan",
    )
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    base = load_scenario(ROOT / "scenarios" / f"{args.scenario}.toml")
    best, _ = best_demand(with_seed(base, seeds[0]))
    print(f"{args.scenario}; best demand on seed {seeds[0]}: {setting_label(best)}")
    extra = dict(item.split("=", 1) for item in args.policy_set)
    pred_cfg = validate_policy({"name": "predictive", **extra})
    oracle_cfg = validate_policy({"name": "schedule-oracle", **extra})
    if extra:
        print(f"predictive and schedule-oracle with {extra}")
    rows = []
    print(
        "| seed | best demand lost ms | predictive lost ms | ratio | steady: predictive ms "
        "| steady: schedule-oracle ms | ratio |"
    )
    print("|---|---|---|---|---|---|---|")
    for seed in seeds:
        s = with_seed(base, seed)
        d = run_policy(s, best)["summary"]
        p = run_policy(s, pred_cfg)["summary"]
        o = run_policy(s, oracle_cfg)["summary"]
        r_all = p["lost_time_ms"] / d["lost_time_ms"]
        r_steady = p["steady_lost_time_ms"] / o["steady_lost_time_ms"]
        rows.append((d["lost_time_ms"], p["lost_time_ms"], r_all, r_steady))
        print(
            f"| {seed} | {d['lost_time_ms']:,.1f} | {p['lost_time_ms']:,.1f} | {r_all:.3f} "
            f"| {p['steady_lost_time_ms']:,.1f} | {o['steady_lost_time_ms']:,.1f} "
            f"| {r_steady:.3f} |",
            flush=True,
        )
    for name, col in (("best demand lost ms", 0), ("predictive lost ms", 1)):
        iv = interval(r[col] for r in rows)
        print(f"{name}: {iv.mean:,.1f} ± {iv.half_width or 0:,.1f}")
    for name, col in (("predictive ÷ best demand", 2), ("steady predictive ÷ schedule-oracle", 3)):
        iv = interval(r[col] for r in rows)
        worst = max(r[col] for r in rows)
        print(f"{name}: {iv.mean:.3f} ± {iv.half_width or 0:.3f} (worst {worst:.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
