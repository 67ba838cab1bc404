"""Every input the command line reads is bounded before the work starts: an input over the
budget ends in exit 2 with one line on stderr and no traceback, and the process never holds
more than 1 GB (its peak RSS, read from the kernel with os.wait4). Streams of trace bytes
(/dev/zero, compression bombs) stop at their byte cap while they are read."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from engine.limits import MAX_TRACE_BYTES, MAX_WHOLE_STREAM_REFS
from engine.mrc import fault_counts
from engine.replay import ReplayError, replay
from tests.security import ROOT, TRACEBACK

PEAK_RSS_LIMIT_BYTES = 1 << 30
BOMB_PIECE_BYTES = 16 << 20  # zeros compressed once, the compressed piece repeated
QUICKSTART = str(ROOT / "scenarios" / "quickstart.toml")


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    peak_rss_bytes: int


# A child's peak RSS (ru_maxrss) includes what it shared with its parent before exec, and by
# then the test process may hold gigabytes. So a tiny launcher starts the command and reports
# its grandchild's own peak, which begins from the launcher's few MiB.
LAUNCHER = (
    "import os, sys\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.execv(sys.executable, [sys.executable, '-m', 'engine.cli', *sys.argv[2:]])\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "open(sys.argv[1], 'w').write(str(usage.ru_maxrss))\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def vmswap(*args: str, cwd: Path) -> Outcome:
    """Run `python -m engine.cli ARGS` and measure that process's own peak RSS (wait4, through
    a small launcher so the test process's size does not count)."""
    out, err, rss = cwd / "stdout.txt", cwd / "stderr.txt", cwd / "peak_rss_kib.txt"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with out.open("wb") as o, err.open("wb") as e:
        proc = subprocess.run(
            [sys.executable, "-S", "-c", LAUNCHER, str(rss), *args],
            stdout=o,
            stderr=e,
            cwd=cwd,
            env=env,
            check=False,
        )
    return Outcome(
        proc.returncode,
        out.read_text(errors="replace"),
        err.read_text(errors="replace"),
        int(rss.read_text()) * 1024,  # KiB on Linux
    )


def assert_refused(result: Outcome, *words: str) -> str:
    """Exit 2, exactly one line on stderr naming the limit, no traceback, under 1 GB."""
    assert result.code == 2, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert not TRACEBACK.search(result.stderr)
    assert len(lines[0]) < 400, lines[0][:400]
    for word in words:
        assert word in lines[0], lines[0]
    assert result.peak_rss_bytes < PEAK_RSS_LIMIT_BYTES, result.peak_rss_bytes
    return lines[0]


def bomb(path: Path, compress: object) -> Path:
    """A small file that decompresses to more zeros than a trace may hold: one compressed
    piece repeated (gzip members, xz streams and zstd frames all concatenate)."""
    piece = compress(b"\0" * BOMB_PIECE_BYTES)  # type: ignore[operator]
    path.write_bytes(piece * (MAX_TRACE_BYTES // BOMB_PIECE_BYTES + 2))
    return path


def small_trace(tmp_path: Path, pages: int = 1000) -> Path:
    path = tmp_path / "small.trace"
    path.write_text("".join(f"{p}\n" for p in range(pages)))
    return path


def test_replaying_dev_zero_stops_at_the_byte_cap(tmp_path: Path) -> None:
    """/dev/zero read as a trace ends at MAX_TRACE_BYTES with one line, not a MemoryError."""
    line = assert_refused(vmswap("replay", "/dev/zero", "--frames", "10", cwd=tmp_path))
    assert f"{MAX_TRACE_BYTES:,} bytes" in line


@pytest.mark.parametrize("kind", ["gzip", "xz", "zstd"])
def test_a_compression_bomb_stops_at_the_byte_cap(tmp_path: Path, kind: str) -> None:
    """A bomb of zeros in each compression the reader undoes stops while it is decompressed."""
    compress = {
        "gzip": lambda data: gzip.compress(data, 9),
        "xz": lambda data: lzma.compress(data, preset=0),
        "zstd": lambda data: pytest.importorskip("zstandard").ZstdCompressor().compress(data),
    }[kind]
    path = bomb(tmp_path / f"zeros.{kind}", compress)
    assert path.stat().st_size < 8 << 20
    line = assert_refused(vmswap("replay", str(path), "--frames", "10", cwd=tmp_path))
    assert f"{kind}-decompressed" in line


def test_a_bomb_of_blank_lines_stops_at_the_byte_cap(tmp_path: Path) -> None:
    """A text trace of one page, then more blank lines than the byte cap, stops at the cap
    (the blank lines are skipped at C speed; zstd keeps the decompression quick)."""
    zstd = pytest.importorskip("zstandard").ZstdCompressor()
    path = tmp_path / "blank.trace.zst"
    path.write_bytes(
        zstd.compress(b"1\n")
        + bomb(
            tmp_path / "nl.zst", lambda data: zstd.compress(data.replace(b"\0", b"\n"))
        ).read_bytes()
    )
    assert_refused(vmswap("mrc", str(path), cwd=tmp_path), "bytes of zstd-decompressed")


def test_a_bz2_file_is_not_decompressed(tmp_path: Path) -> None:
    """bz2 is not a trace compression: its bytes are read as they are (a bomb stays small)."""
    path = tmp_path / "zeros.bz2"
    path.write_bytes(bz2.compress(b"\0" * BOMB_PIECE_BYTES) * 64)
    result = vmswap("replay", str(path), "--frames", "10", cwd=tmp_path)
    assert result.code in (0, 2), result
    assert not TRACEBACK.search(result.stderr)
    assert result.peak_rss_bytes < PEAK_RSS_LIMIT_BYTES


@pytest.mark.parametrize("frames", ["100000000", "1000000000", "10" + "0" * 30])
def test_replay_with_more_frames_than_references_is_exact_and_small(
    tmp_path: Path, frames: str
) -> None:
    """Frames beyond the references are never filled: a huge count gives the exact answer
    (every reference a cold miss) in bounded memory, for CLOCK too."""
    trace = small_trace(tmp_path)
    result = vmswap(
        "replay", str(trace), "--policy", "clock", "--frames", frames, "--json", cwd=tmp_path
    )
    assert result.code == 0, result
    assert '"faults": 1000' in result.stdout
    assert result.peak_rss_bytes < PEAK_RSS_LIMIT_BYTES


@pytest.mark.parametrize(
    "frames", ["1:1000000000", "1:100000000000000000000000000000", "5:40001:2"]
)
def test_mrc_refuses_more_points_than_a_curve_holds(tmp_path: Path, frames: str) -> None:
    """--frames ranges over MAX_MRC_POINTS counts are refused before the list is built."""
    trace = small_trace(tmp_path)
    assert_refused(vmswap("mrc", str(trace), "--frames", frames, cwd=tmp_path), "at most 10,000")


def test_mrc_opt_with_a_huge_frame_count_is_exact(tmp_path: Path) -> None:
    """opt at a frame count far above the distinct pages needs no replay: cold misses only."""
    trace = small_trace(tmp_path)
    result = vmswap(
        "mrc",
        str(trace),
        "--policies",
        "opt,clock",
        "--frames",
        "1000000000",
        "--json",
        cwd=tmp_path,
    )
    assert result.code == 0, result
    assert '"opt": [1.0]' in result.stdout
    assert result.peak_rss_bytes < PEAK_RSS_LIMIT_BYTES


def test_mrc_refuses_more_replayed_references_than_the_budget(tmp_path: Path) -> None:
    """9,999 replays of 200,000 references by two policies (4e9) exceed MAX_REPLAY_REFS."""
    trace = tmp_path / "wide.trace"
    pages = np.random.default_rng(1).integers(0, 50_000, 200_000)
    trace.write_text("\n".join(map(str, pages.tolist())) + "\n")
    assert_refused(
        vmswap("mrc", str(trace), "--policies", "opt,fifo", "--frames", "1:9999", cwd=tmp_path),
        "the budget is 1,000,000,000",
    )


def test_whole_stream_replays_refuse_before_allocating() -> None:
    """opt and LRU stack distances refuse a stream over MAX_WHOLE_STREAM_REFS at once (the
    stream here costs no memory: one element, broadcast)."""
    stream = np.broadcast_to(np.int64(7), (MAX_WHOLE_STREAM_REFS + 1,))
    with pytest.raises(ReplayError, match="at most 20,000,000 references"):
        replay(stream, 10, "opt")
    with pytest.raises(ReplayError, match="at most 20,000,000 references"):
        fault_counts(stream, [10], ["lru"])


def test_a_deeply_nested_scenario_file_is_refused(tmp_path: Path) -> None:
    """TOML nested thousands deep is refused before tomllib recurses into it."""
    path = tmp_path / "deep.toml"
    path.write_text("name = " + "[" * 5000 + "]" * 5000 + "\n")
    assert_refused(vmswap("validate", str(path), cwd=tmp_path), "at most 64")


def test_a_deeply_nested_sweep_file_is_refused(tmp_path: Path) -> None:
    """A sweep file goes through the same depth check as a scenario file."""
    path = tmp_path / "deep_sweep.toml"
    path.write_text("x = " + "{a = " * 5000 + "1" + "}" * 5000 + "\n")
    assert_refused(vmswap("sweep", str(path), "--dry-run", cwd=tmp_path), "at most 64")


def test_a_deeply_nested_set_value_is_refused(tmp_path: Path) -> None:
    """A --set value nested thousands deep is refused, not parsed."""
    value = "[" * 3000 + "]" * 3000
    assert_refused(vmswap("run", QUICKSTART, "--set", f"name={value}", cwd=tmp_path), "at most 64")


def test_a_scenario_read_from_dev_zero_is_refused(tmp_path: Path) -> None:
    """A scenario file is read up to its size cap, so a device of endless bytes is refused."""
    assert_refused(vmswap("validate", "/dev/zero", cwd=tmp_path), "larger than 1 MiB")


def test_an_empty_scenario_file_is_refused(tmp_path: Path) -> None:
    """A file with no [[vms]] has nothing to run: refused, as a link or --set vms=[] is."""
    path = tmp_path / "empty.toml"
    path.write_text("")
    assert_refused(vmswap("validate", str(path), cwd=tmp_path), "[[vms]]")
    path.write_text('name = "no vms"\n')
    assert_refused(vmswap("validate", str(path), cwd=tmp_path), "[[vms]]")


def test_a_long_name_is_quoted_short(tmp_path: Path) -> None:
    """A 500,000-character name is named by its first characters and its length only."""
    path = tmp_path / "name.toml"
    path.write_text('name = "' + "x" * 500_000 + '"\n[[vms]]\nname = "a"\n')
    line = assert_refused(vmswap("validate", str(path), cwd=tmp_path), "(500,000 characters)")
    assert "x" * 61 not in line


def test_a_scenario_file_over_the_size_cap_is_refused_unparsed(tmp_path: Path) -> None:
    """A 10 MB scenario file (a 10 MB name) is refused by its size before tomllib reads it."""
    path = tmp_path / "big.toml"
    path.write_text('name = "' + "x" * 10_000_000 + '"\n[[vms]]\nname = "a"\n')
    assert_refused(vmswap("validate", str(path), cwd=tmp_path), "larger than 1 MiB")
