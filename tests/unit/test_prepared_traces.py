"""Trace workloads are read and mapped once per file and mapping, shared read-only, in a
byte-bounded cache."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from engine.bounded_cache import BoundedCache
from engine.scenario import Workload, from_dict
from engine.simulator import Simulation
from engine.workloads import prepared
from engine.workloads.prepared import PreparedTrace, prepared_cache, prepared_trace


def trace_file(tmp_path: Path, pages: list[int], name: str = "t.txt") -> str:
    path = tmp_path / name
    path.write_text("\n".join(str(p) for p in pages) + "\n")
    return str(path)


def scenario(path: str) -> dict:
    vm = {"name": "a", "memory_mib": 1, "workload": {"kind": "trace", "path": path}}
    return {
        "name": "t",
        "duration_ms": 5.0,
        "host": {"pcpus": 1, "memory_mib": 1},
        "vms": [vm, {**vm, "name": "b"}],
    }


def trace_sources(sim: Simulation) -> list:
    return [vcpu.stream.source for vcpu in sim.vcpus]


def test_a_second_simulation_reuses_the_prepared_trace(tmp_path: Path) -> None:
    """Two simulations of one scenario replay the very same prepared arrays, read once."""
    sc = from_dict(scenario(trace_file(tmp_path, [5, 9, 5, 7] * 100)))
    first = trace_sources(Simulation(sc, record=False))
    entries = len(prepared_cache())
    second = trace_sources(Simulation(sc, record=False))
    assert len(prepared_cache()) == entries  # nothing new was prepared
    assert first and all(a.trace is b.trace for a, b in zip(first, second, strict=True))


def test_prepared_arrays_are_read_only(tmp_path: Path) -> None:
    """No run can alter the pages or write flags another run replays."""
    path = tmp_path / "w.npz"
    np.savez(path, pages=np.array([3, 4, 3]), writes=np.array([True, False, False]))
    got = prepared_trace(Workload(kind="trace", path=str(path)), 16)
    assert got.writes is not None
    for array in (got.pages, got.writes):
        with pytest.raises(ValueError):
            array[0] = 1


def test_a_rewritten_file_is_read_afresh(tmp_path: Path) -> None:
    """The key is the file's identity, not its name: new contents give new pages."""
    path = trace_file(tmp_path, [1, 2, 3])
    w = Workload(kind="trace", path=path)
    assert prepared_trace(w, 100).pages.tolist() == [1, 2, 3]
    trace_file(tmp_path, [7, 8, 9, 10])
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert prepared_trace(w, 100).pages.tolist() == [7, 8, 9, 10]


def test_every_mapping_setting_is_part_of_the_key(tmp_path: Path) -> None:
    """compact, page_scale, page_offset and the span each give their own prepared trace."""
    path = trace_file(tmp_path, [100, 300, 200])
    plain = prepared_trace(Workload(kind="trace", path=path), 1000).pages.tolist()
    compact = prepared_trace(Workload(kind="trace", path=path, compact=True), 1000)
    scaled = prepared_trace(Workload(kind="trace", path=path, page_scale=100), 1000)
    offset = prepared_trace(Workload(kind="trace", path=path, page_offset=1), 1000)
    narrow = prepared_trace(Workload(kind="trace", path=path), 150)
    assert plain == [100, 300, 200]
    assert compact.pages.tolist() == [0, 2, 1]
    assert scaled.pages.tolist() == [1, 3, 2]
    assert offset.pages.tolist() == [101, 301, 201]
    assert narrow.pages.tolist() == [100, 0, 50]


def test_the_cache_stays_within_its_byte_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Preparing more traces than fit evicts the oldest: the bytes held never pass the bound."""
    small: BoundedCache[PreparedTrace] = BoundedCache(40_000)
    monkeypatch.setattr(prepared, "_PREPARED", small)
    for k in range(8):
        path = trace_file(tmp_path, list(range(k, k + 3000)), f"t{k}.txt")
        prepared_trace(Workload(kind="trace", path=path), 1 << 20)
        assert small.nbytes <= small.max_bytes
    assert 0 < len(small) < 8


def test_sessions_preparing_one_trace_at_once_get_the_same_pages(tmp_path: Path) -> None:
    """Threads (the app's sessions) asking for one trace together all get its pages, kept once."""
    path = trace_file(tmp_path, [4, 8, 15, 16, 23, 42] * 500)
    w = Workload(kind="trace", path=path, compact=True)
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda _: prepared_trace(w, 64), range(32)))
    assert all(g.pages.tolist() == [0, 1, 2, 3, 4, 5] * 500 for g in got)
    assert prepared_trace(w, 64).pages is prepared_trace(w, 64).pages  # then kept once
