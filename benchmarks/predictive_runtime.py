"""CPU time of one predictive and one schedule-oracle run of nvme_8vm_2x (seed 1) against
demand paging's, on two checkouts interleaved, best of N each (the machine is shared: only
the best of several and the ratio to demand mean much).

Usage: python benchmarks/predictive_runtime.py [--repeat N] CHECKOUT [CHECKOUT ...]
Each CHECKOUT is a directory holding this project's engine/ (e.g. an old commit unpacked with
`git archive`); each run is a fresh process with that directory first on its path."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

POLICIES = ("demand", "predictive", "schedule-oracle")
SCENARIO = "scenarios/nvme_8vm_2x.toml"
# One run in a child: CPU time of the simulation alone (imports and compiled-code loading are
# done by a first, one-step run), and a digest of its summary to show the results agree.
CHILD = """
import hashlib, json, sys, time
from engine.cli.common import load_with_overrides
from engine.cli.switches import policy_config
from engine.simulator import simulate
scenario = load_with_overrides(sys.argv[1], ["seed=1"])
cfg = policy_config(scenario, sys.argv[2], {})
simulate(load_with_overrides(sys.argv[1], ["seed=1", "duration_ms=1"]), cfg, record=False)
t0 = time.process_time()
run = simulate(scenario, cfg, record=False)
cpu = time.process_time() - t0
digest = hashlib.sha256(json.dumps(run.summary, sort_keys=True, default=str).encode()).hexdigest()
print(json.dumps({"cpu_s": cpu, "digest": digest[:12]}))
"""


def one_run(checkout: str, policy: str) -> dict[str, float | str]:
    env = {**os.environ, "PYTHONPATH": checkout}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, os.path.join(checkout, SCENARIO), policy],
        env=env,
        cwd=checkout,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[str, float | str] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkouts", nargs="+")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    best: dict[tuple[str, str], float] = {}
    digests: dict[tuple[str, str], str] = {}
    for _ in range(args.repeat):
        for policy in POLICIES:
            for checkout in args.checkouts:
                r = one_run(checkout, policy)
                key = (checkout, policy)
                best[key] = min(best.get(key, float("inf")), float(r["cpu_s"]))
                digests[key] = str(r["digest"])
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for checkout in args.checkouts:
        demand = best[(checkout, "demand")]
        for policy in POLICIES:
            s = best[(checkout, policy)]
            print(
                f"{checkout:<28} {policy:<16} best {s:6.2f} s CPU  "
                f"{s / demand:5.1f}x demand  summary {digests[(checkout, policy)]}"
            )


if __name__ == "__main__":
    main()
