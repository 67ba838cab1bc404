"""The baseline run in a forked child beside the policies' runs: simulate()'s figures exactly."""

from __future__ import annotations

import sys

import pytest

from engine import baseline_beside
from tests.helpers import fresh_python_json

# Run in a fresh process: no other thread is running there, so the baseline may be forked.
PROGRAM = """
import json, os, sys
from engine import baseline_beside, simulator
from engine.simulator import simulate
from engine.workloads import feed, forget_kept_blocks
from tests.helpers import small_scenario

mode = sys.argv[1]
baseline_beside._a_core_is_idle = lambda: mode != "busy"  # whatever the machine's load
scenario = small_scenario()
configs = [{"name": "demand"}, {"name": "predictive"}]
forked = []
from_child = []
start = baseline_beside.BaselineChild.start
outcome = baseline_beside.BaselineChild.outcome

def recorded(s, beside):
    child = start(s, beside)
    forked.append(child is not None)
    return child

def answered(child):
    got = outcome(child)
    from_child.append(got is not None)
    return got

fed = [0]
take = feed.BlockFeed.take

def counted(self, s, i):
    got = take(self, s, i)
    fed[0] += got is not None
    return got

baseline_beside.BaselineChild.start = recorded
baseline_beside.BaselineChild.outcome = answered
feed.BlockFeed.take = counted
if mode == "child fails":
    def broken(s, **kwargs):
        raise RuntimeError("the child's baseline broke")
    baseline_beside.unlimited_outcome = broken
if mode == "fork fails":
    def no_fork():
        raise BlockingIOError("no process to be had")
    os.fork = no_fork
open_before = len(os.listdir("/proc/self/fd"))
parent = os.getpid()
own_run = simulator.Simulation.run
if mode == "parent fails":  # the run beside the child fails (in the parent only)
    def broken_run(self, *args, **kwargs):
        if os.getpid() == parent:
            raise RuntimeError("the parent's run broke")
        return own_run(self, *args, **kwargs)
    simulator.Simulation.run = broken_run
try:
    beside = [r.to_json() for r in baseline_beside.simulate_beside(scenario, configs)]
except Exception as exc:
    beside = repr(exc)
simulator.Simulation.run = own_run
fds_left = len(os.listdir("/proc/self/fd")) - open_before
try:
    os.waitpid(-1, os.WNOHANG)
    left = True
except ChildProcessError:
    left = False
simulator._BASELINE_CACHE = simulator.BoundedCache(simulator.BASELINE_CACHE_BYTES)  # afresh
forget_kept_blocks()  # and every block drawn afresh, here
alone = [simulate(scenario, c, record=False).to_json() for c in configs[-2:]]
error = beside if isinstance(beside, str) else ""
print(json.dumps({
    "same": beside == alone, "forked": forked, "from_child": from_child, "error": error,
    "left": left, "fed": fed[0], "fds_left": fds_left,
}))
"""


def _run(mode: str) -> dict:
    return fresh_python_json(PROGRAM, mode)


def test_runs_with_the_baseline_beside_them_are_simulates_runs() -> None:
    """Two policies run while a forked child computes the baseline and draws blocks for the
    first: each result is the one simulate() gives with every block drawn afresh (slowdown
    included), and the child is reaped."""
    if sys.platform != "linux":
        pytest.skip("the baseline is forked on Linux only")
    got = _run("ok")
    assert got["forked"] == [True]
    assert got["from_child"] == [True]  # the child's outcome, not the parent's own
    assert got["fed"] > 0  # blocks the child drew for the parent's run
    assert got["same"] is True and got["left"] is False and got["fds_left"] == 0


def test_a_child_that_fails_leaves_the_baseline_to_the_parent() -> None:
    """A child whose baseline raises gives no outcome; the parent computes it: same results."""
    got = _run("child fails")
    assert got["from_child"] == [False]
    assert got["same"] is True and got["left"] is False


def test_a_run_that_fails_ends_the_child() -> None:
    """A run beside the child that fails raises its error in the parent, and the child
    computing the baseline (and drawing blocks for that run) is stopped and reaped."""
    got = _run("parent fails")
    assert "the parent's run broke" in got["error"]
    assert got["forked"] == [True]
    assert got["left"] is False


def test_where_no_process_can_be_forked_the_parent_runs_the_baseline_itself() -> None:
    """A fork that fails leaves the baseline to the parent, same results, no pipe left open."""
    if sys.platform != "linux":
        pytest.skip("the baseline is forked on Linux only")
    got = _run("fork fails")
    assert got["forked"] == [False]
    assert got["same"] is True and got["fds_left"] == 0


def test_on_a_busy_machine_the_parent_runs_the_baseline_itself() -> None:
    """With no idle core nothing is forked (the child would only take turns with the parent),
    and the results are simulate()'s."""
    got = _run("busy")
    assert got["forked"] == [False]
    assert got["same"] is True and got["left"] is False


@pytest.mark.parametrize(
    ("cores", "load", "runnable", "idle"),
    [
        (2, 0.2, 1, True),  # only this process runs: the second core is free
        (2, 0.2, None, True),  # not known now: the load average decides
        (2, 0.2, 2, False),  # another task runs now
        (2, 1.6, 1, False),  # busy over the last minute
        (1, 0.0, 1, False),  # no second core
    ],
)
def test_a_child_is_forked_only_beside_an_idle_core(
    monkeypatch: pytest.MonkeyPatch, cores: int, load: float, runnable: int | None, idle: bool
) -> None:
    """The baseline is forked only where a core is free now and was over the last minute."""
    monkeypatch.setattr(baseline_beside.os, "sched_getaffinity", lambda _pid: set(range(cores)))
    monkeypatch.setattr(baseline_beside.os, "getloadavg", lambda: (load, load, load))
    monkeypatch.setattr(baseline_beside, "_runnable_now", lambda: runnable)
    assert baseline_beside._a_core_is_idle() is idle
