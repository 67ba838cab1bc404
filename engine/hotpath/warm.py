"""Compile the hot path's kernels into numba's on-disk cache: `python -m engine.hotpath.warm`.

The Makefile's install step runs it, so neither `make run` nor `make test` makes a user wait
for the compiler. It runs a tiny scenario on each path the kernels have (first touches, hits,
major faults with readahead, reclaim) so every kernel is compiled with the types a real run
gives it; numba writes the machine code next to the sources (in __pycache__). From the command
line the policies' runs are split in two processes compiling at once (warm_in_parallel), which
halves the install's wait on two cores. It also writes the engine's bytecode there: where
PYTHONDONTWRITEBYTECODE is set, Python would otherwise compile every engine module from
source at each start (~0.1 s of `vmswap run`)."""

from __future__ import annotations

import compileall
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from engine.device import BACKGROUND_WRITE
from engine.hotpath.adaptive_fault import next_window
from engine.hotpath.lookahead import must_redraw
from engine.mrc import fault_counts
from engine.replay import POLICIES
from engine.scenario import from_dict
from engine.simulator import Simulation, simulate

ENGINE_DIR = Path(__file__).resolve().parents[1]
WARM_SCENARIO = {
    "name": "warm",
    "seed": 1,
    "duration_ms": 20.0,
    "host": {"pcpus": 2, "memory_mib": 2, "swap_mib": 64},
    "device": {"preset": "nvme-ssd"},
    "recording": {"enabled": False},
    "vms": [
        {"name": "vm0", "memory_mib": 2, "workload": {"kind": "zipf", "write_fraction": 0.2}},
        # Two vCPUs in one VM: the oracle's paths for a VM with several streams (its fault
        # reads from Python, its victims timed whole).
        {
            "name": "vm1",
            "memory_mib": 2,
            "vcpus": 2,
            "workload": {"kind": "zipf", "write_fraction": 0.2},
        },
        # The streams' other compiled kinds (engine/hotpath/sampling.py): a mixture's parts.
        {
            "name": "mix",
            "memory_mib": 1,
            "workload": {"kind": "mixture", "components": [{"kind": "zipf"}, {"kind": "scan"}]},
        },
    ],
}
# Predictive's lead times (engine/hotpath/lead_time.py) are computed only for a VM due to run
# again: slices short enough that the VMs take turns within the warm-up's 20 ms.
TURNS_SCHEDULER = {"kind": "credit", "slice_ms": 2.0}


# The warm-up's policy runs (a policy that reads what each run touched and restores working
# sets, restore_sets.py; the oracle's next-use times, next_use.py; the schedule oracle's
# next-period sets, period_sets.py, and the restore sets that put them first), in two parts
# of about equal compile time (~55 s each on this machine): the oracle's kernels, and the rest.
POLICY_PARTS: dict[str, list[dict[str, str]]] = {
    "oracle": [{"name": "oracle"}],
    "rest": [
        *({"name": "demand", "victims": v} for v in ("lru", "fifo", "clock")),
        {"name": "predictive"},
        {"name": "schedule-oracle"},
    ],
}


def warm_policies(part: str) -> None:
    """Run the warm-up scenario under each policy of one part (compiling what is not cached)."""
    for policy in POLICY_PARTS[part]:
        data = dict(WARM_SCENARIO, policy=policy)
        if policy["name"] in ("predictive", "schedule-oracle"):
            data["scheduler"] = TURNS_SCHEDULER
        simulate(from_dict(data), record=False)


def warm() -> float:
    """Run every kernel once (compiling it unless cached); returns the seconds it took."""
    t0 = time.perf_counter()
    compileall.compile_dir(ENGINE_DIR, quiet=1)
    for part in POLICY_PARTS:
        warm_policies(part)
    # Demand's steps in Python too: the compiled loop of quiet steps (engine.quiet_steps) does
    # their reclaim inside, but other policies' runs call the reclaim kernels from Python.
    demand = POLICY_PARTS["rest"][0]
    sim = Simulation(from_dict(dict(WARM_SCENARIO, policy=demand)), quiet_steps=False)
    sim.run()
    # The kernel's direct reclaim may keep every step boundary above the low watermark, so a
    # reclaim from Python (the kept list's, reclaim_kept) is asked for once here whatever
    # the run did: its first use must not wait for the compiler.
    sim.machine.reclaim(8, sim.now_ns, BACKGROUND_WRITE)
    # The oracle's _refresh asks must_redraw only of a window that its compiled calls did not
    # already move on, which a short run may never have: asked once here.
    must_redraw(0, 0, -1)
    # Adaptive readahead's readable model asks next_window from Python (the kernel's reads
    # have it compiled in): asked once here.
    next_window(0, 1, 0, 8, 0)
    # The textbook replays and miss-ratio curves (`vmswap replay`, `vmswap mrc`).
    fault_counts(np.array([1, 2, 1, 3, 2, 1], dtype=np.int64), [1, 2], POLICIES)
    return time.perf_counter() - t0


def warm_in_parallel() -> float:
    """warm(), with the two policy parts compiled at once in two child processes first (where
    there are two cores: numba compiles on one; ~60 s instead of ~125 s on this machine);
    then warm() in this process loads what they cached and compiles anything they missed (a
    kernel both compiled with other types keeps one child's entry in its index). This
    process has already dropped stale kernels (engine.hotpath's import): the children never
    race to drop each other's."""
    t0 = time.perf_counter()
    if (os.cpu_count() or 1) >= 2:
        children = [
            subprocess.Popen(
                [sys.executable, "-m", "engine.hotpath.warm", "--part", part],
                cwd=ENGINE_DIR.parent,
            )
            for part in POLICY_PARTS
        ]
        failed = [c.args for c in children if c.wait() != 0]
        if failed:
            raise SystemExit(f"the warm-up failed in {failed}")
    warm()
    return time.perf_counter() - t0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--part"]:
        warm_policies(sys.argv[2])
    else:
        print(f"numba kernels of the hot path ready in {warm_in_parallel():.1f} s")
