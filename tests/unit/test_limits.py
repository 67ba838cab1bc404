"""The budget's helpers: TOML nesting measured without parsing, user text quoted short, a
recording's bytes bounded from above, and trace streams stopped at their byte cap as they
are read."""

from __future__ import annotations

import gzip
import lzma
from pathlib import Path

import numpy as np
import pytest

from engine import from_dict, load_scenario, simulate
from engine.errors import ScenarioError, TraceError
from engine.limits import MAX_TOML_DEPTH, quote, toml_depth, toml_too_deep
from engine.scenario import check_recording, loads_scenario, recording_bytes
from engine.traces import read_trace
from engine.traces.compression import Source
from tests.conftest import ROOT


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("a = 1", 0),
        ("a = [1, [2, [3]]]", 3),
        ("a = {b = {c = [1]}}", 3),
        ('a = "[[[[{{{{"', 0),
        ("a = '[[[['", 0),
        ('a = """\n[[[[\n"""\nb = [1]', 1),
        ("a = '''[[[['''", 0),
        ('a = "x\\"[[["', 0),
        ("# [[[[[[\na = [1]", 1),
        ("[[vms]]\nname = 'a'", 2),
    ],
)
def test_toml_depth_counts_brackets_outside_strings_and_comments(text: str, depth: int) -> None:
    """Only arrays, inline tables and table headers nest; strings and comments do not."""
    assert toml_depth(text) == depth


def test_deep_toml_is_refused_before_tomllib_recurses() -> None:
    """Text nested past MAX_TOML_DEPTH is a ScenarioError naming the limit, not a
    RecursionError; text at the limit is parsed."""
    at_limit = "a = " + "[" * MAX_TOML_DEPTH + "]" * MAX_TOML_DEPTH
    assert toml_too_deep(at_limit) is None
    deep = "a = " + "[" * 100_000 + "]" * 100_000
    with pytest.raises(ScenarioError, match=f"nest 100,000 deep; at most {MAX_TOML_DEPTH}"):
        loads_scenario(deep)


def test_a_long_string_is_scanned_in_linear_time_and_little_memory() -> None:
    """A 10 MB string is one token of the scan (no saved state per character)."""
    assert toml_depth('a = "' + "x" * 10_000_000 + '"\nb = [1]') == 1


def test_quote_keeps_short_text_and_shortens_long_text() -> None:
    """Up to 60 characters are quoted whole; longer text shows its start and its length."""
    assert quote("web") == "'web'"
    shown = quote("y" * 1_000_000)
    assert shown.startswith("'" + "y" * 60 + "'…") and "(1,000,000 characters)" in shown


def test_a_scenario_without_vms_is_refused() -> None:
    """An empty scenario (no [[vms]]) has nothing to run."""
    with pytest.raises(ScenarioError, match=r"at least one \[\[vms\]\]"):
        loads_scenario("")


def recorded_bytes(rec: object) -> int:
    """What a finished recording holds in residency arrays and per-frame arrays."""
    n = sum(k.nbytes for k in rec.keyframes.values())  # type: ignore[attr-defined]
    n += sum(i.nbytes + v.nbytes for i, v in rec.deltas.values())  # type: ignore[attr-defined]
    for series in ("counters", "device_pages", "device_busy_ns", "prefetch_landed"):
        n += sum(a.nbytes for a in getattr(rec, series))
    n += sum(p.vcpu.nbytes * 4 for p in rec.plans)  # type: ignore[attr-defined]
    return n


def test_the_recording_estimate_bounds_what_a_run_records() -> None:
    """recording_bytes is an upper bound of a real recording (quickstart, shortened)."""
    s = load_scenario(ROOT / "scenarios" / "quickstart.toml")
    s.duration_ms = 200.0
    s.recording.keyframe_every = 4
    rec = simulate(s, record=True).recording
    assert 0 < recorded_bytes(rec) <= recording_bytes(s)


def test_a_recording_over_the_budget_is_refused() -> None:
    """16 VMs, a minute in 1 ms frames of 2,048 columns, a keyframe at every frame: refused."""
    s = from_dict(
        {
            "duration_ms": 60_000.0,
            "recording": {"frame_ms": 1.0, "columns": 2048, "keyframe_every": 1},
            "vms": [{"name": f"v{i}", "memory_mib": 256} for i in range(16)],
        }
    )
    with pytest.raises(ScenarioError, match=r"recording: its recording could take 3,6\d\d MiB"):
        check_recording(s)


def test_a_trace_stops_at_its_byte_cap_while_it_is_read(tmp_path: Path) -> None:
    """read_trace stops once it has read max_bytes, found while streaming: the source has
    read no more than the cap plus one byte."""
    path = tmp_path / "pages.trace"
    path.write_text("\n".join(map(str, range(100_000))) + "\n")
    with pytest.raises(TraceError, match=r"more than 10,000 bytes of trace data"):
        read_trace(path, max_bytes=10_000)
    assert len(read_trace(path, max_bytes=path.stat().st_size)) == 100_000


@pytest.mark.parametrize("kind", ["gzip", "xz", "zstd"])
def test_a_bomb_is_stopped_within_the_cap(tmp_path: Path, kind: str) -> None:
    """64 MiB of zeros in a few KB stop at a 1 MiB cap, having decompressed at most that."""
    zeros = b"\0" * (64 << 20)
    data = {
        "gzip": lambda: gzip.compress(zeros, 9),
        "xz": lambda: lzma.compress(zeros, preset=0),
        "zstd": lambda: pytest.importorskip("zstandard").ZstdCompressor().compress(zeros),
    }[kind]()
    path = tmp_path / "bomb"
    path.write_bytes(data)
    with Source(path, max_bytes=1 << 20) as src, pytest.raises(TraceError, match=kind):
        while src.read(1 << 16):
            pass
    assert src.bytes_read <= (1 << 20) + 1


def test_a_zstd_file_of_several_frames_reads_whole_through_small_pieces(tmp_path: Path) -> None:
    """Feeding zstd 1 KiB at a time keeps frames and their boundaries intact."""
    zstd = pytest.importorskip("zstandard").ZstdCompressor()
    parts = [np.arange(i * 5000, (i + 1) * 5000).astype(str) for i in range(3)]
    path = tmp_path / "three.trace.zst"
    path.write_bytes(b"".join(zstd.compress(("\n".join(p) + "\n").encode()) for p in parts))
    assert read_trace(path).pages.tolist() == list(range(15_000))
