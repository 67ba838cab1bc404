"""Sweep throughput: the same 200-run sweep on a local Dask cluster of 1 and of 2 workers.

Prints runs/s for each and the ratio (the target is ≥ 1.7x on 2 free cores). Cluster start-up
and the workers' first imports are left out of the timing; each run takes a few tenths of a
second so scheduling overhead stays small. Never fails on time: shared machines are noisy.
Usage: python benchmarks/sweep_throughput.py [--seeds N]  (8 runs per seed; 25 → 200)
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from engine.sweep import execute, open_client, sweep_from_dict

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = 1.7


def make_sweep(seeds: int) -> Any:
    """2 policies × 4 VM counts × seeds runs of quickstart (3–6 VMs on its 256 MiB host)."""
    return sweep_from_dict(
        {
            "name": "throughput",
            "base": str(ROOT / "scenarios" / "quickstart.toml"),
            "seeds": seeds,
            "set": {"duration_ms": 150.0},  # 5 and 6 VMs swap; 0.2–0.5 s a run
            "axes": {
                "policy": ["demand", {"name": "demand", "victims": "random"}],
                "vm_count": [3, 4, 5, 6],
            },
        }
    )


def measure(runs: list[Any], workers: int) -> tuple[float, dict[str, Any], list[float]]:
    """(wall seconds, summaries by key, per-run seconds) for all runs on `workers` workers."""
    summaries: dict[str, Any] = {}
    per_run: list[float] = []

    def on_result(run: Any, record: dict[str, Any]) -> None:
        summaries[run.key] = record["summary"]
        per_run.append(record["elapsed_s"])

    with open_client(workers=workers) as client:
        client.run(importlib.import_module, "engine.sweep")  # first imports, off the clock
        start = time.perf_counter()
        execute(runs, client, on_result, timeout_s=600)
        wall = time.perf_counter() - start
    return wall, summaries, per_run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=25, help="seeds per grid point (25 → 200)")
    args = parser.parse_args()
    runs = make_sweep(args.seeds).runs()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"sweep throughput: {len(runs)} runs, {cores} cores, load {os.getloadavg()[0]:.2f}")
    results = {}
    for workers in (1, 2):
        wall, summaries, per_run = measure(runs, workers)
        results[workers] = (wall, summaries)
        print(
            f"  {workers} worker{'s' if workers > 1 else ' '}: {wall:7.2f} s wall, "
            f"{len(runs) / wall:6.2f} runs/s (a run: median {statistics.median(per_run):.3f} s, "
            f"max {max(per_run):.3f} s)"
        )
    ratio = results[1][0] / results[2][0]
    same = results[1][1] == results[2][1]
    print(f"  2 workers ÷ 1 worker: {ratio:.2f}x (target ≥ {TARGET_RATIO}x)")
    print(f"  results identical for 1 and 2 workers: {same}")
    print(f"  load average after: {os.getloadavg()[0]:.2f} (other work on the machine skews this)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
