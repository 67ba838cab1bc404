"""Small scenarios for fast tests, built through the schema like any user input, and a runner
that holds a web view's work until the test runs it, and a fresh Python process that answers
in JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine import from_dict
from engine.scenario import Scenario


def small_scenario(**over: Any) -> Scenario:
    """Three VMs on two pCPUs, overcommitted, a few hundred ms: swaps within a second."""
    vms = over.pop("vms", None) or [
        {"name": "a", "memory_mib": 4, "workload": {"kind": "zipf", "zipf_alpha": 0.8}},
        {"name": "b", "memory_mib": 4, "workload": {"kind": "scan", "pages": 700}},
        {
            "name": "c",
            "memory_mib": 4,
            "activity": {"kind": "random", "burst_ms": 3.0, "sleep_ms": 4.0},
            "workload": {"kind": "uniform", "pages": 600, "write_fraction": 0.5},
        },
    ]
    data: dict[str, Any] = {
        "name": "small",
        "seed": 5,
        "duration_ms": 60.0,
        "host": {"pcpus": 2, "memory_mib": 6, "swap_mib": 64, "step_us": 500},
        "device": {"preset": "nvme-ssd"},
        "scheduler": {"kind": "credit", "slice_ms": 5.0},
        "recording": {"frame_ms": 5.0, "columns": 32},
        "vms": vms,
    }
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return from_dict(data)


class QueuedRunner:
    """A web view's runner that keeps the work handed to it until the test runs it (served,
    a session's worker thread does): what the view did before the work ran can be checked."""

    def __init__(self) -> None:
        self.jobs: list[tuple[Callable[[], Any], Callable[[Any], None]]] = []

    def submit(self, fn: Callable[[], Any], done: Callable[[Any], None]) -> None:
        self.jobs.append((fn, done))

    def run_all(self) -> None:
        """Run the queued work in order, handing each result (or exception) to its `done`."""
        while self.jobs:
            fn, done = self.jobs.pop(0)
            try:
                result = fn()
            except BaseException as exc:  # handed to `done`, as the real runners do
                result = exc
            done(result)


ROOT = Path(__file__).resolve().parents[1]


def fresh_python_json(code: str, *args: str) -> Any:
    """Run code in a fresh interpreter at the project's root (this checkout's engine first on
    the path) and parse the last line it prints as JSON; a failure raises with its output."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return json.loads(done.stdout.splitlines()[-1])


def fault_prefetch_asks(policy: Any) -> list[int]:
    """The pages `policy.fault_prefetch` is asked about from now on (the method wrapped on
    this instance): empty after a run whose major faults the compiled executor read itself."""
    asked: list[int] = []
    ask = policy.fault_prefetch

    def counted(vm: int, page: int, now_ns: int) -> Any:
        asked.append(page)
        return ask(vm, page, now_ns)

    policy.fault_prefetch = counted
    return asked
