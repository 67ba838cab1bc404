"""Trace-driven VMs: how a trace maps onto a VM (compact, scale, offset, time) and how it ends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.errors import ScenarioError
from engine.scenario import Workload, dumps_toml, from_dict, loads_scenario
from engine.simulator import FINISHED, Simulation, simulate
from engine.workloads import RefStream, stream_seed


def trace_file(tmp_path: Path, pages: list[int]) -> str:
    path = tmp_path / "t.txt"
    path.write_text("\n".join(str(p) for p in pages) + "\n")
    return str(path)


def stream(path: str, vm_pages: int = 1 << 20, **fields: Any) -> RefStream:
    w = Workload(kind="trace", path=path, **fields)
    return RefStream(w, vm_pages, stream_seed(1, "vm", 0))


def first(s: RefStream, n: int) -> list[int]:
    return s.take(0, n)[0].tolist()


def test_plain_trace_replays_pages_as_they_are_and_loops(tmp_path: Path) -> None:
    """Defaults: the trace's own page numbers, started again at its end."""
    s = stream(trace_file(tmp_path, [7, 3, 9]))
    assert first(s, 7) == [7, 3, 9, 7, 3, 9, 7]
    assert s.source.done_at is None


def test_compact_numbers_distinct_pages_in_address_order(tmp_path: Path) -> None:
    """compact: sparse pages become 0..D-1, keeping their order (neighbours stay neighbours)."""
    pages = [0x7FFF_0000_0010, 0x5555_0001, 0x7FFF_0000_0011, 0x5555_0000, 0x5555_0001]
    s = stream(trace_file(tmp_path, pages), vm_pages=8, compact=True)
    assert first(s, 5) == [2, 1, 3, 0, 1]


def test_page_scale_folds_trace_pages_onto_larger_vm_pages(tmp_path: Path) -> None:
    """page_scale k: trace page p is VM page p // k (e.g. 512 × 4 KiB onto 2 MiB pages)."""
    s = stream(trace_file(tmp_path, [0, 511, 512, 1023, 1024, 5000]), page_scale=512)
    assert first(s, 6) == [0, 0, 1, 1, 2, 9]


def test_offset_then_wrap_into_the_span(tmp_path: Path) -> None:
    """page_offset is added after compaction and scaling; the result wraps into `pages`."""
    path = trace_file(tmp_path, [10, 20, 30, 40])
    s = stream(path, vm_pages=100, compact=True, page_offset=98, pages=100)
    assert first(s, 4) == [98, 99, 0, 1]


def test_huge_raw_pages_with_an_offset_do_not_overflow(tmp_path: Path) -> None:
    """Raw 63-bit page numbers plus an offset still land inside the VM."""
    big = (1 << 63) - 1
    s = stream(trace_file(tmp_path, [big, big - 1]), vm_pages=1000, page_offset=(1 << 40))
    got = first(s, 2)
    assert got == [(big % 1000 + (1 << 40) % 1000) % 1000, ((big - 1) % 1000 + 776) % 1000]
    assert all(0 <= p < 1000 for p in got)


@pytest.mark.parametrize(
    ("time_scale", "expected"),
    [
        (2.0, [0, 2, 4, 6, 8, 0]),  # every other reference: time runs twice as fast
        (0.5, [0, 0, 1, 1, 2, 2]),  # each reference twice: CPU per trace reference doubles
        (0.3, [0, 0, 0, 0, 1, 1]),  # ⌊i·3/10⌋, exact (no float rounding at i = 10)
        (1.5, [0, 1, 3, 4, 6, 7]),
    ],
)
def test_time_scale_skips_or_repeats_references(
    tmp_path: Path, time_scale: float, expected: list[int]
) -> None:
    """Reference i replays trace reference ⌊i × time_scale⌋ (looping past the end)."""
    s = stream(trace_file(tmp_path, list(range(10))), time_scale=time_scale)
    assert first(s, 6) == expected
    i = np.arange(0, 100_000)
    whole = s.take(0, len(i))[0]
    num, den = s.source.num, s.source.den
    assert whole.tolist() == ((i * num // den) % 10).tolist()


@pytest.mark.parametrize(
    ("time_scale", "done_at", "last"), [(1.0, 10, 9), (2.0, 5, 8), (3.0, 4, 9), (0.5, 20, 9)]
)
def test_a_non_looping_trace_ends_after_its_last_reference(
    tmp_path: Path, time_scale: float, done_at: int, last: int
) -> None:
    """loop = false: the stream ends after ⌈n / time_scale⌉ references, before it would wrap."""
    s = stream(trace_file(tmp_path, list(range(10))), loop=False, time_scale=time_scale)
    assert s.source.done_at == done_at
    assert s.take(0, done_at)[0][-1] == last


def test_very_long_streams_index_exactly(tmp_path: Path) -> None:
    """⌊i·p/q⌋ stays exact far beyond where i·p would overflow int64."""
    s = stream(trace_file(tmp_path, list(range(7))), time_scale=999.999)
    start = 1 << 45
    got = s.source.pages(start, 3)
    num, den = s.source.num, s.source.den
    assert got.tolist() == [((start + k) * num // den) % 7 for k in range(3)]


SCENARIO = """
name = "trace_ends"
duration_ms = 200.0
[host]
pcpus = 2
memory_mib = 64
[[vms]]
name = "finite"
vcpus = {vcpus}
memory_mib = 16
[vms.workload]
kind = "trace"
path = "{path}"
loop = false
compact = true
time_scale = {time_scale}
cpu_ns_per_ref = 1000
[[vms]]
name = "forever"
memory_mib = 16
[vms.workload]
kind = "trace"
path = "{path}"
cpu_ns_per_ref = 1000
"""


@pytest.mark.parametrize("executor", ["fast", "reference"])
def test_a_vm_on_a_non_looping_trace_finishes(tmp_path: Path, executor: str) -> None:
    """The VM makes exactly the trace's references, its vCPU finishes; a looping one runs on."""
    pages = [int(p) for p in np.random.default_rng(3).integers(0, 4000, 5000)]
    path = trace_file(tmp_path, pages)
    scenario = loads_scenario(SCENARIO.format(path=path, vcpus=1, time_scale=1.0))
    run = simulate(scenario, "demand", executor=executor, record=False)
    finite, forever = run.vms
    assert finite["references"] == 5000
    assert forever["references"] > 5000
    sim = Simulation(scenario, "demand", executor=executor, record=False)
    sim.run(until=sim.end_ns)
    assert sim.vcpus[0].status == FINISHED and sim.vcpus[1].status != FINISHED


def test_every_vcpu_of_a_vm_replays_the_whole_trace(tmp_path: Path) -> None:
    """Two vCPUs on a non-looping trace: each makes all of its references (2 × n in total)."""
    path = trace_file(tmp_path, list(range(0, 3000, 3)))
    scenario = loads_scenario(SCENARIO.format(path=path, vcpus=2, time_scale=2.0))
    run = simulate(scenario, "demand", record=False)
    assert run.vms[0]["references"] == 2 * 500


@pytest.mark.parametrize(
    ("field", "value"),
    [("page_scale", 0), ("time_scale", 0.0), ("time_scale", 5000.0), ("compact", "yes")],
)
def test_mapping_fields_are_checked(field: str, value: Any) -> None:
    """Out-of-range mapping fields are a ScenarioError naming the field."""
    data = {"vms": [{"workload": {"kind": "trace", "path": "x.txt", field: value}}]}
    with pytest.raises(ScenarioError, match=rf"vms\[0\]\.workload\.{field}"):
        from_dict(data)


def test_mapping_fields_survive_a_toml_round_trip() -> None:
    """compact, page_scale and time_scale are written to TOML and read back equal."""
    fields = {"compact": True, "page_scale": 512, "time_scale": 0.25, "loop": False}
    data = {"vms": [{"workload": {"kind": "trace", "path": "/x.npz", **fields}}]}
    again = loads_scenario(dumps_toml(from_dict(data)))
    w = again.vms[0].workload
    assert (w.compact, w.page_scale, w.time_scale, w.loop) == (True, 512, 0.25, False)


def test_trace_write_flags_are_replayed(tmp_path):
    """A trace that records writes replays its own flags; write_fraction is then ignored."""
    import numpy as np

    from engine.scenario import Workload
    from engine.workloads import RefStream, stream_seed

    path = tmp_path / "t.npz"
    pages = np.arange(10, dtype=np.int64)
    writes = np.array([True, False] * 5)
    np.savez(path, pages=pages, writes=writes)
    w = Workload(kind="trace", path=str(path), format="npz", write_fraction=0.0)
    p, wr = RefStream(w, 64, stream_seed(1, "vm", 0)).take(0, 20)
    assert p.tolist() == list(range(10)) * 2
    assert wr.tolist() == [True, False] * 10
