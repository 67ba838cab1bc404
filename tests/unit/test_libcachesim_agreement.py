"""engine.replay against libCacheSim, an independent simulator, on every shared LIRS trace and
on the real-program traces captured with valgrind that ship in scenarios/traces/.

Each trace is written as a libCacheSim oracleGeneral file (obj_size 1, next_access_vtime set,
so Belady can see the future) and replayed by libCacheSim's C code with cache_size = frames,
which then counts objects. libCacheSim's Clock (init-freq 0, 1-bit counter, a FIFO queue that
re-inserts referenced objects) is the same second-chance algorithm as ours, so it is compared
directly too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.mrc import fault_counts
from engine.replay import next_use, replay
from engine.traces import read_trace

lcs = pytest.importorskip(
    "libcachesim", reason="libcachesim (a test extra) is the reference simulator compared against"
)

ROOT = Path(__file__).resolve().parents[2]
LIRS_DIR = ROOT.parent / "shared" / "traces" / "lirs"
LIRS_FILES = sorted(LIRS_DIR.glob("*.trace.gz")) if LIRS_DIR.is_dir() else []
CAPTURED_FILES = sorted((ROOT / "scenarios" / "traces").glob("*.npz"))
# Each replay costs both simulators a pass over the stream per frame count: the first million
# references of each captured trace (gzip, xz, sort, sqlite3 at work, well past start-up)
# keeps this test to seconds.
CAPTURED_PREFIX = 1_000_000
TRACES = [
    *[pytest.param(p, id=p.name) for p in LIRS_FILES],
    *[pytest.param(p, id=f"captured-{p.name}") for p in CAPTURED_FILES],
]
if not LIRS_FILES:
    TRACES.append(
        pytest.param(
            None,
            id="lirs",
            marks=pytest.mark.skip(reason=f"LIRS traces not found in {LIRS_DIR} (../shared)"),
        )
    )

ORACLE = np.dtype([("time", "<u4"), ("obj_id", "<u8"), ("size", "<u4"), ("next", "<i8")])
LCS_CACHES = {"lru": "LRU", "fifo": "FIFO", "clock": "Clock", "opt": "Belady"}


class Case:
    """One LIRS trace: its pages, its oracleGeneral copy and a reader libCacheSim can replay."""

    def __init__(self, source: Path, folder: Path) -> None:
        self.pages = read_trace(source).pages
        if source.suffix == ".npz":
            self.pages = self.pages[:CAPTURED_PREFIX]
        records = np.zeros(len(self.pages), dtype=ORACLE)
        records["time"] = np.arange(len(self.pages))
        records["obj_id"] = self.pages
        records["size"] = 1
        records["next"] = next_use(self.pages)  # -1: never again (the reader maps it to "far")
        self.oracle = folder / f"{source.name}.oracleGeneral"
        records.tofile(self.oracle)
        self.reader = lcs.TraceReader(str(self.oracle), lcs.TraceType.ORACLE_GENERAL_TRACE)
        distinct = len(np.unique(self.pages))
        picks = (1, 3, 10, distinct // 32, distinct // 8, distinct // 4, distinct // 2, distinct)
        self.sizes = sorted({s for s in picks if s})

    def lcs_faults(self, policy: str, frames: int) -> int:
        cache = getattr(lcs, LCS_CACHES[policy])(cache_size=frames, hashpower=16)
        miss_ratio, _byte_miss_ratio = cache.process_trace(self.reader)
        return round(miss_ratio * len(self.pages))


@pytest.fixture(scope="module", params=TRACES)
def case(request: Any, tmp_path_factory: pytest.TempPathFactory) -> Case:
    return Case(request.param, tmp_path_factory.mktemp("oracle"))


def test_oracle_reader_reads_back_the_written_file(case: Case) -> None:
    """Our 'oracle' reader returns exactly the pages written into the oracleGeneral copy."""
    trace = read_trace(case.oracle)
    assert trace.format == "oracle"
    assert np.array_equal(trace.pages, case.pages)


@pytest.mark.parametrize("policy", ["lru", "fifo", "clock", "opt"])
def test_replay_miss_counts_equal_libcachesim(case: Case, policy: str) -> None:
    """replay counts the same misses as libCacheSim's LRU, FIFO, Clock and Belady at each size."""
    ours = [replay(case.pages, frames, policy).faults for frames in case.sizes]
    theirs = [case.lcs_faults(policy, frames) for frames in case.sizes]
    assert ours == theirs, list(zip(case.sizes, ours, theirs, strict=True))


def test_one_pass_lru_curve_equals_libcachesim(case: Case) -> None:
    """The stack-distance LRU curve matches libCacheSim's LRU at every tested size."""
    ours = fault_counts(case.pages, case.sizes, ("lru",))["lru"].tolist()
    assert ours == [case.lcs_faults("lru", frames) for frames in case.sizes]


def test_captured_traces_are_real_program_traces() -> None:
    """The captured traces are there to compare, each with more references than the prefix."""
    assert {p.stem for p in CAPTURED_FILES} >= {"gzip", "sort", "sqlite3", "xz"}
    for path in CAPTURED_FILES:
        assert len(read_trace(path)) > CAPTURED_PREFIX
