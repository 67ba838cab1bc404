"""`vmswap replay` and `vmswap mrc`: output shapes, exit codes and one-line messages."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from engine.cli import main
from engine.mrc import mrc

SILBERSCHATZ = [7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1]


@pytest.fixture
def trace_file(tmp_path: Path) -> Path:
    """Silberschatz's reference string as a gzip'd LIRS trace with a checkpoint marker."""
    lines = [str(p) for p in SILBERSCHATZ[:10]] + ["*"] + [str(p) for p in SILBERSCHATZ[10:]]
    path = tmp_path / "silberschatz.trace.gz"
    path.write_bytes(gzip.compress("\n".join(lines).encode()))
    return path


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("vmswap: error: ")
    return lines[0]


@pytest.mark.parametrize(("policy", "faults"), [("fifo", 15), ("lru", 12), ("opt", 9)])
def test_replay_json_has_the_counts(
    trace_file: Path, capsys: pytest.CaptureFixture[str], policy: str, faults: int
) -> None:
    """--json prints exactly one JSON object with references, faults and hits."""
    code = main(["replay", str(trace_file), "--frames", "3", "--policy", policy, "--json"])
    out, err = capsys.readouterr()
    assert code == 0
    data = json.loads(out)
    assert out.count("\n") == 1
    assert {k: data[k] for k in ("references", "faults", "hits")} == {
        "references": 20,
        "faults": faults,
        "hits": 20 - faults,
    }
    assert data["policy"] == policy and data["frames"] == 3 and data["format"] == "lirs"
    assert "auto-detected as 'lirs'" in err


def test_replay_default_output_is_one_readable_line(
    trace_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --json, replay prints one line of counts; an explicit format is not announced."""
    assert main(["replay", str(trace_file), "--frames", "3", "--format", "lirs"]) == 0
    out, err = capsys.readouterr()
    assert out.count("\n") == 1
    assert "20 references" in out and "lru: 12 faults, 8 hits" in out
    assert err == ""


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--frames", "0"], "--frames: got 0, expected a whole number ≥ 1"),
        (["--frames", "three"], "--frames: got 'three', expected a whole number ≥ 1"),
        (
            ["--frames", "3", "--policy", "lruu"],
            "--policy: unknown policy 'lruu' (did you mean 'lru'?); allowed: clock, fifo, lru, opt",
        ),
        (["--frames", "3", "--format", "lirz"], "--format: unknown format 'lirz' (did you mean"),
        (["--frames", "3", "--page-shift", "64"], "--page-shift: got 64, expected a whole number"),
    ],
)
def test_replay_bad_values_exit_2_with_one_line(
    trace_file: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    """A bad flag value exits 2 with one line naming the flag, the value and what is allowed."""
    assert main(["replay", str(trace_file), *args]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert expected in one_error_line(err)


def test_replay_missing_trace_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing trace file is a one-line error naming it, exit 2."""
    missing = tmp_path / "none.trace"
    assert main(["replay", str(missing), "--frames", "3"]) == 2
    assert f"{missing}: no such trace file" in one_error_line(capsys.readouterr().err)


def test_replay_bad_trace_line_exits_2_with_line_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A malformed trace is a one-line error with its line number, exit 2."""
    path = tmp_path / "bad.txt"
    path.write_text("1\n2\n3\nfour\n")
    assert main(["replay", str(path), "--frames", "3", "--format", "text"]) == 2
    assert f"{path}:4: found 'four'" in one_error_line(capsys.readouterr().err)


def test_replay_frames_flag_is_required(
    trace_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Leaving out --frames is an argparse error: exit 2, one line naming the flag."""
    with pytest.raises(SystemExit) as excinfo:
        main(["replay", str(trace_file)])
    assert excinfo.value.code == 2
    assert "--frames" in one_error_line(capsys.readouterr().err)


def test_mrc_json_shape_and_values(trace_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """mrc --json gives frames, a miss-ratio list per policy and the reference count."""
    argv = ["mrc", str(trace_file), "--policies", "lru,fifo,opt", "--frames", "1:7:2", "--json"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert data["frames"] == [1, 3, 5, 7]
    assert data["references"] == 20
    assert set(data["miss_ratio"]) == {"lru", "fifo", "opt"}
    expected = mrc(np.array(SILBERSCHATZ), [1, 3, 5, 7], ("lru", "fifo", "opt"))
    for policy, ratios in data["miss_ratio"].items():
        assert ratios == expected[policy].tolist()
    assert data["miss_ratio"]["fifo"][1] == 15 / 20
    assert "auto-detected" in err


def test_mrc_default_table_runs_up_to_distinct_pages(
    trace_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --frames the table covers 1 up to the distinct pages, one row per frame count."""
    assert main(["mrc", str(trace_file), "--policies", "lru,clock"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert "6 distinct pages" in lines[0]
    assert lines[1].split() == ["frames", "lru", "clock"]
    rows = [line.split() for line in lines[2:]]
    assert [int(r[0]) for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[2][1] == f"{12 / 20:.4f}"  # LRU, 3 frames: 12 faults of 20
    assert rows[-1][1:] == [f"{6 / 20:.4f}"] * 2  # all frames: cold misses only


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--frames", "5:2"], "--frames: got '5:2', expected a:b:step"),
        (["--frames", "0:4:1"], "--frames: got '0:4:1', expected a:b:step"),
        (["--frames", "1:4:0"], "--frames: got '1:4:0', expected a:b:step"),
        (["--frames", "1:2:3:4"], "--frames: got '1:2:3:4', expected a:b:step"),
        (["--frames", "x"], "--frames: got 'x', expected a:b:step"),
        (["--policies", "lru,fifa"], "--policies: unknown policy 'fifa' (did you mean 'fifo'?)"),
        (["--policies", ","], "--policies: got ',', expected a comma list"),
    ],
)
def test_mrc_bad_values_exit_2_with_one_line(
    trace_file: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    """mrc rejects bad ranges and policies with one line naming flag, value and what is allowed."""
    assert main(["mrc", str(trace_file), *args]) == 2
    assert expected in one_error_line(capsys.readouterr().err)
