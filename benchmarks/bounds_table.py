"""The bounds over seeds: mean lost time (stall + gating wait) of demand paging, predictive,
the schedule oracle and the oracle, and whether the oracle loses no more time than demand
paging on every shipped scenario at full length.

    python benchmarks/bounds_table.py lost [SCENARIO ...]   # default: the headline three
    python benchmarks/bounds_table.py bound                 # every shipped scenario

Seeds 1-5. Prints Markdown tables; a results script, not a test (it takes minutes).
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.scenario import load_scenario, with_overrides  # noqa: E402
from engine.simulator import simulate  # noqa: E402

SEEDS = (1, 2, 3, 4, 5)
POLICIES = ("demand", "predictive", "schedule-oracle", "oracle")
HEADLINE = ("nvme_8vm_2x", "patent_demo", "quickstart")


def lost_time_ms(name: str, seed: int, policy: str) -> float:
    scenario = with_overrides(load_scenario(ROOT / "scenarios" / f"{name}.toml"), [f"seed={seed}"])
    return simulate(scenario, {"name": policy}, record=False).summary["lost_time_ns"] / 1e6


def lost_table(names: list[str]) -> None:
    print("| scenario | " + " | ".join(POLICIES) + " |")
    print("|---|" + "---|" * len(POLICIES))
    for name in names:
        cells = []
        for policy in POLICIES:
            runs = [lost_time_ms(name, seed, policy) for seed in SEEDS]
            print(f"<!-- {name} {policy}: " + ", ".join(f"{v:.1f}" for v in runs) + " -->")
            cells.append(f"{statistics.mean(runs):,.1f}")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


def bound_table() -> None:
    print("| scenario | seed | demand lost ms | oracle lost ms | oracle ≤ demand |")
    print("|---|---|---|---|---|")
    for path in sorted((ROOT / "scenarios").glob("*.toml")):
        for seed in SEEDS:
            d, o = lost_time_ms(path.stem, seed, "demand"), lost_time_ms(path.stem, seed, "oracle")
            holds = "yes" if o <= d else "**no**"
            print(f"| {path.stem} | {seed} | {d:,.1f} | {o:,.1f} | {holds} |")
            sys.stdout.flush()


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "lost"
    if mode == "bound":
        bound_table()
    else:
        lost_table(sys.argv[2:] or list(HEADLINE))
