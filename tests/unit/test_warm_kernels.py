"""The warm-up (`python -m engine.hotpath.warm`, run by `make install`) reaches predictive's
lead times, so the served app does not compile them at its first predictive run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from engine.hotpath import warm as warm_module
from tests.conftest import ROOT

# In a fresh process, so that only the warm-up can have compiled (or loaded) anything.
COMPILED = """
import json
from engine.hotpath import lead_time
from engine.hotpath.warm import warm
warm()
kernels = (lead_time.restore_lead_ns, lead_time.deliverable_pages)
print(json.dumps({k.py_func.__name__: len(k.signatures) for k in kernels}))
"""


def test_the_warm_up_compiles_predictives_lead_times() -> None:
    """After the warm-up in a fresh process, both lead-time kernels predictive calls from
    Python have a compiled signature (its first runs used to end before any VM was due)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", COMPILED],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    )
    compiled = json.loads(out.stdout.strip().splitlines()[-1])
    assert compiled == {"restore_lead_ns": 1, "deliverable_pages": 1}


def test_a_failed_part_of_the_parallel_warm_up_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m engine.hotpath.warm` compiles its two parts in two child processes: one
    that fails stops the warm-up with the command that failed, not a half-warm cache taken
    for a whole one."""
    monkeypatch.setattr(warm_module, "POLICY_PARTS", {"no-such-part": []})
    monkeypatch.setattr(warm_module.os, "cpu_count", lambda: 2)
    with pytest.raises(SystemExit, match="no-such-part"):
        warm_module.warm_in_parallel()


def test_the_two_parts_run_every_policy_the_warm_up_ran() -> None:
    """Split for the two processes, the warm-up still runs demand paging with each of its
    victim lists, predictive, the oracle and the schedule oracle."""
    runs = [p for part in warm_module.POLICY_PARTS.values() for p in part]
    names = sorted((p["name"], p.get("victims", "")) for p in runs)
    assert names == [
        ("demand", "clock"), ("demand", "fifo"), ("demand", "lru"), ("oracle", ""),
        ("predictive", ""), ("schedule-oracle", ""),
    ]  # fmt: skip
