"""A long run: 10 simulated minutes with recording on, and its peak memory against a run
a tenth as long, measured in the same invocation (each in its own child process).

The recording keeps at most MAX_FRAMES frames (keyframes plus sparse deltas), so memory
should grow far less than tenfold.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import resource, sys, time
sys.path.insert(0, {root!r})
from engine import from_dict
from engine.simulator import Simulation
from engine.recording import MAX_FRAMES
vms = [{{"name": f"vm{{i}}", "memory_mib": 64,
        "activity": {{"kind": "random", "burst_ms": 40.0, "sleep_ms": 20.0}},
        "workload": {{"kind": "phased", "ws_pages": 6000, "phase_refs": 200000,
                     "cpu_ns_per_ref": 20000}}}} for i in range(6)]
s = from_dict({{"duration_ms": {ms}, "host": {{"pcpus": 2, "memory_mib": 192, "step_us": 10000}},
               "recording": {{"frame_ms": 20.0, "columns": 512}}, "vms": vms}})
t0 = time.perf_counter()
sim = Simulation(s, record=True)
run = sim.run(with_baseline=False)  # the engine alone
rec = run.recording
stored = sum(k.nbytes for k in rec.keyframes.values())
stored += sum(i.nbytes + v.nbytes for i, v in rec.deltas.values())
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter() - t0,
      rec.n_frames, stored, int(run.summary["references"]))
"""


def measure(ms: float) -> tuple[float, float, int, int, int]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD.format(root=str(ROOT), ms=ms)],
        capture_output=True,
        text=True,
        check=True,
    )
    kb, secs, frames, stored, refs = out.stdout.split()
    return int(kb) / 1024, float(secs), int(frames), int(stored), int(refs)


def main() -> None:
    short = measure(60_000.0)
    long = measure(600_000.0)
    for label, (mib, secs, frames, stored, refs) in (("1 min", short), ("10 min", long)):
        print(
            f"{label:>7} simulated: peak {mib:6.0f} MiB, {frames:5d} frames, residency "
            f"store {stored / 2**20:6.1f} MiB, {refs:,} refs in {secs:.1f} s"
        )
    print(f"peak memory ratio 10 min / 1 min: {long[0] / short[0]:.2f}x (time ratio 10x)")


if __name__ == "__main__":
    main()
