"""Print the do-no-harm grid: predictive's slowdown ÷ demand paging's where the plan is wrong.

    .venv/bin/python benchmarks/no_harm.py [--seeds 1,2,3,4,5] [--duration-ms 1500]
        [--set SWITCH=VALUE ...] [--memo runs.json] [--only plan|bursts]

Rows: nvme_8vm_2x with `faults.plan_error_rate` 0 to 0.5, and misprediction with its bursts
×1, ×5, ×10 (engine.no_harm). Each row: mean and 95 % interval of the per-seed ratio, the worst
seed, the mean plan accuracy and pollution faults. The claim: every seed ≤ 1.05.
`--set backoff_on=benefit` measures the back-off on measured benefit (off by default).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.no_harm import (  # noqa: E402
    BURST_FACTORS,
    NO_HARM_RATIO,
    PLAN_ERROR_RATES,
    Cell,
    burst_overrides,
    cell,
)
from engine.scenario import load_scenario, parse_value  # noqa: E402

HEADER = (
    "| case | predictive ÷ demand slowdown | worst seed | plan accuracy | pollution faults |",
    "|---|---|---|---|---|",
)


def row(c: Cell) -> str:
    iv = c.ratio
    mean = f"{iv.mean:.3f}" if iv.half_width is None else f"{iv.mean:.3f} ± {iv.half_width:.3f}"
    flag = "" if c.worst <= NO_HARM_RATIO else " **harm**"
    acc = sum(c.plan_accuracy) / len(c.plan_accuracy)
    poll = sum(c.pollution_faults) / len(c.pollution_faults)
    return f"| {c.label} | {mean} | {c.worst:.3f}{flag} | {acc:.1%} | {poll:,.0f} |"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--duration-ms", type=float, default=None)
    parser.add_argument("--set", action="append", default=[], help="a predictive switch")
    parser.add_argument("--memo", default=None, help="a JSON file keeping each run's summary")
    parser.add_argument("--only", choices=["plan", "bursts"], default=None)
    args = parser.parse_args(argv)
    switches = {k: parse_value(v) for k, v in (a.split("=", 1) for a in args.set)}
    memo_path = Path(args.memo) if args.memo else None
    memo = json.loads(memo_path.read_text()) if memo_path and memo_path.exists() else {}
    seeds = tuple(int(s) for s in args.seeds.split(","))
    extra = [f"duration_ms={args.duration_ms}"] if args.duration_ms else []
    nvme = load_scenario(ROOT / "scenarios" / "nvme_8vm_2x.toml")
    mis = load_scenario(ROOT / "scenarios" / "misprediction.toml")
    cases = (
        []
        if args.only == "bursts"
        else [
            (nvme, f"nvme_8vm_2x, plan_error_rate {r:g}", [f"faults.plan_error_rate={r}"])
            for r in PLAN_ERROR_RATES
        ]
    )
    cases += (
        []
        if args.only == "plan"
        else [(mis, f"misprediction, bursts ×{f}", burst_overrides(mis, f)) for f in BURST_FACTORS]
    )
    t0 = time.perf_counter()
    print(
        f"Predictive {switches or 'as shipped'}; seeds {', '.join(map(str, seeds))}; "
        "ratio = mean ± 95 % half-width over seeds."
    )
    print(*HEADER, sep="\n")
    for scenario, label, overrides in cases:
        c = cell(scenario, label, [*overrides, *extra], seeds, switches, memo)
        print(row(c), flush=True)
        if memo_path:
            memo_path.write_text(json.dumps(memo))
    print(f"\n({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
