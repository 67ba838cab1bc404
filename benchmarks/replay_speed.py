"""Textbook replay against its peers measured in the same run (ratios, not absolute times).

On the first million references of a captured real-program trace (scenarios/traces/gzip.npz
unless another is named), each policy counts its faults at eight frame counts (1, 3, 10 and
1/32, 1/8, 1/4, 1/2 and all of the distinct pages, as tests/unit/test_libcachesim_agreement.py
does) three ways: the compiled counters as `vmswap mrc` uses them (engine.mrc.fault_counts:
the stream's dense ids made once), the plain-Python reference counters (engine.replay's
PYTHON_COUNTERS), and libCacheSim's C simulators where installed (its LRU, FIFO, Clock and
Belady, reading an oracleGeneral copy of the trace). The three give the same counts (checked
here). Each contender's best of --rounds interleaved rounds is kept (another process on the
machine slows a round, never speeds one up); times are this process's CPU time.

Usage: python benchmarks/replay_speed.py [--rounds N] [--trace PATH]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.mrc import fault_counts  # noqa: E402
from engine.replay import POLICIES, PYTHON_COUNTERS, next_use  # noqa: E402
from engine.traces import read_trace  # noqa: E402

PREFIX = 1_000_000
LCS_CACHES = {"lru": "LRU", "fifo": "FIFO", "clock": "Clock", "opt": "Belady"}
ORACLE = np.dtype([("time", "<u4"), ("obj_id", "<u8"), ("size", "<u4"), ("next", "<i8")])


def frame_counts(pages: np.ndarray) -> list[int]:
    """The test's eight frame counts for this stream."""
    distinct = len(np.unique(pages))
    picks = (1, 3, 10, distinct // 32, distinct // 8, distinct // 4, distinct // 2, distinct)
    return sorted({s for s in picks if s})


def libcachesim_counter(pages: np.ndarray, folder: Path) -> Callable[[str, int], int] | None:
    """libCacheSim's fault count of a policy at a frame count, or None where not installed."""
    try:
        import libcachesim as lcs
    except ImportError:
        return None
    records = np.zeros(len(pages), dtype=ORACLE)
    records["time"] = np.arange(len(pages))
    records["obj_id"] = pages
    records["size"] = 1
    records["next"] = next_use(pages)
    path = folder / "trace.oracleGeneral"
    records.tofile(path)
    reader = lcs.TraceReader(str(path), lcs.TraceType.ORACLE_GENERAL_TRACE)

    def count(policy: str, frames: int) -> int:
        cache = getattr(lcs, LCS_CACHES[policy])(cache_size=frames, hashpower=16)
        miss_ratio, _ = cache.process_trace(reader)
        return round(miss_ratio * len(pages))

    return count


def timed(fn: Callable[[], list[int]]) -> tuple[float, list[int]]:
    """(CPU seconds, result) of fn()."""
    t0 = time.process_time()
    out = fn()
    return time.process_time() - t0, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--trace", default=str(ROOT / "scenarios" / "traces" / "gzip.npz"))
    args = parser.parse_args()
    pages = read_trace(args.trace).pages[:PREFIX].astype(np.int64)
    sizes = frame_counts(pages)
    fault_counts(pages[:100], [2], POLICIES)  # compiled code loaded before any timing
    with tempfile.TemporaryDirectory() as tmp:
        lcs_count = libcachesim_counter(pages, Path(tmp))
        contenders: dict[str, Callable[[str], list[int]]] = {
            "compiled": lambda p: fault_counts(pages, sizes, (p,))[p].tolist(),
            "python": lambda p: [PYTHON_COUNTERS[p](pages, s) for s in sizes],
        }
        if lcs_count is not None:
            contenders["libCacheSim"] = lambda p: [lcs_count(p, s) for s in sizes]
        print(
            f"{len(pages):,} references of {Path(args.trace).name}, {len(np.unique(pages)):,} "
            f"distinct pages; frame counts {sizes}; CPU time, best of {args.rounds} rounds"
        )
        for policy in POLICIES:
            best: dict[str, float] = {}
            counts: dict[str, list[int]] = {}
            for _ in range(args.rounds):
                for name, run in contenders.items():
                    seconds, counts[name] = timed(partial(run, policy))
                    best[name] = min(best.get(name, float("inf")), seconds)
            if len({tuple(c) for c in counts.values()}) != 1:
                raise SystemExit(f"{policy}: the counts differ: {counts}")
            line = (
                f"{policy:6s} compiled {best['compiled']:6.3f} s   python {best['python']:6.3f} s"
            )
            line += f" ({best['python'] / best['compiled']:5.1f}x)"
            if "libCacheSim" in best:
                line += f"   libCacheSim {best['libCacheSim']:6.3f} s"
                line += f" ({best['libCacheSim'] / best['compiled']:5.1f}x)"
            print(line)
        print("(ratios: the peer's time over the compiled counters'; the counts are equal)")


if __name__ == "__main__":
    main()
