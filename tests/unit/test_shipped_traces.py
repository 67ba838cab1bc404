"""The real-program traces in scenarios/traces/: they load, say how they were made, and run."""

from __future__ import annotations

import json
import shlex
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from engine.capture import CAPTURE_FORMAT, read_capture_meta
from engine.cli import main
from engine.scenario import load_scenario, with_overrides
from engine.simulator import simulate
from engine.traces import read_trace

ROOT = Path(__file__).resolve().parents[2]
TRACES = ROOT / "scenarios" / "traces"
NAMES = ["gzip", "sort", "sqlite3", "xz"]


@pytest.mark.parametrize("name", NAMES)
def test_a_shipped_trace_loads_and_matches_its_metadata(name: str) -> None:
    """Each trace reads as npz; its meta counts what it holds and names its command."""
    path = TRACES / f"{name}.npz"
    trace = read_trace(path)
    meta = read_capture_meta(path)
    assert trace.format == "npz" and trace.pages.dtype == np.int64
    assert meta["format"] == CAPTURE_FORMAT and meta["command"][0] == name
    assert meta["references"] == len(trace) > 1_000_000
    assert meta["distinct_pages"] == len(np.unique(trace.pages))
    assert meta["writes"] == int(trace.writes.sum())
    assert meta["exit_status"] == 0 and not meta["truncated"] and not meta["instructions"]
    assert path.stat().st_size < 2_000_000, "shipped traces stay small"


@pytest.mark.parametrize("name", NAMES)
def test_the_readme_says_how_each_trace_was_made(name: str) -> None:
    """README.md and make_traces.sh both hold each trace's exact command."""
    meta = read_capture_meta(TRACES / f"{name}.npz")
    command = shlex.join(meta["command"]).replace("'", '"')
    readme = (TRACES / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith(f"| `{name}.npz`"))
    assert command in row
    assert f'--out "$here/{name}.npz" -- {command}' in (TRACES / "make_traces.sh").read_text()


def test_real_programs_scenario_runs_a_vm_on_each_trace() -> None:
    """scenarios/real_programs.toml: one VM per trace, each makes references and faults."""
    scenario = load_scenario(ROOT / "scenarios" / "real_programs.toml")
    paths = {Path(vm.workload.path).name for vm in scenario.vms}
    assert paths == {f"{n}.npz" for n in NAMES}
    short = with_overrides(scenario, ["duration_ms=40", "scheduler.slice_ms=5"])
    run = simulate(short, record=False)
    for vm in run.vms:
        assert vm["references"] > 0 and vm["minor_faults"] > 0, vm["name"]
    assert run.summary["major_faults"] > 0, "the host is overcommitted"


def test_mrc_of_a_captured_trace(capsys: pytest.CaptureFixture[str]) -> None:
    """vmswap mrc on a captured trace: LRU never rises with memory and ends at cold misses."""
    path = TRACES / "gzip.npz"
    assert main(["mrc", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    lru = out["miss_ratio"]["lru"]
    assert all(a >= b for a, b in pairwise(lru))
    assert out["frames"][-1] == out["distinct_pages"] == 142
    assert lru[-1] == pytest.approx(142 / out["references"])
