"""The unlimited-memory baseline computed in a forked process beside the policies' runs.

A summary needs two simulations of a scenario: the policy's and the baseline's (unlimited
memory, the denominator of slowdown), and neither reads the other before the summary. So
`vmswap run`, a process of its own, forks once its modules are imported: the child runs the
baseline while the parent runs the policies, on the machine's second core. The figures are
`simulate()`'s exactly: the child computes `unlimited_outcome` and hands it back through a
pipe, where it is cached as if computed here. The parent computes the baseline itself where
forking is unsafe or pointless (not Linux, other threads running, no idle core, the baseline
cached already) or where the child fails.

Both runs read the same reference streams, so the child draws their blocks for both
(engine.workloads.feed): it hands the parent each block it draws, and keeps a few blocks
ahead of the parent's first run between the steps of its baseline, more once that is done.
The parent's run takes the child's blocks where it would have drawn them (on nvme_8vm_2x a
third of its time after the imports); a block the child does not draw the parent draws
itself, the same block.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from engine.hotpath.cached_load import ready_runtime
from engine.scenario import Scenario
from engine.simulator import (
    RunResult,
    Simulation,
    baseline_references,
    known_unlimited_outcome,
    remember_unlimited_outcome,
    unlimited_outcome,
)
from engine.unlimited import UnlimitedOutcome
from engine.workloads.feed import BlockFeed


def simulate_beside(scenario: Scenario, configs: Sequence[Any]) -> list[RunResult]:
    """`[simulate(scenario, cfg, record=False) for cfg in configs]`, the same results, with
    the baseline run in a forked child beside the first run where that is safe (the others
    start once it is known, each finished before the next is made, as simulate's are)."""
    if not configs:
        return []
    # Made before the fork: its streams' generators are where the child starts drawing from.
    first = Simulation(scenario, configs[0], record=False)
    child = BaselineChild.start(scenario, first)
    try:
        first.run(until=first.end_ns)
    except BaseException:
        if child is not None:
            child.end()
        raise
    outcome = child.outcome() if child is not None else None
    if outcome is not None:
        remember_unlimited_outcome(scenario, outcome)
    base = baseline_references(scenario)
    results = [first.finish(base)]
    del first  # its machine's arrays go before the next run's are made
    for cfg in configs[1:]:
        results.append(Simulation(scenario, cfg, record=False).run(baseline_refs=base))
    return results


def _may_fork() -> bool:
    """Fork only where it is cheap and safe: Linux (fork of a process with numba and LLVM
    loaded), no other Python thread that could hold a lock in the child, and a core idle."""
    if sys.platform != "linux" or threading.active_count() > 1:
        return False
    return _a_core_is_idle()


def _a_core_is_idle() -> bool:
    """Whether a second core is there and idle: nothing else runnable on it now, and the last
    minute's load average leaves at least half a core free besides this process. Where the
    child would only take turns with the parent (or with another process), the parent waits
    for the blocks the child draws and the run is slower than the parent alone: nvme_8vm_2x
    beside one process busy on one of two cores took 0.96 s forked, 0.75 s not."""
    cores = len(os.sched_getaffinity(0))
    if cores < 2 or os.getloadavg()[0] >= cores - 0.5:
        return False
    runnable = _runnable_now()
    return runnable is None or runnable <= cores - 1


def _runnable_now() -> int | None:
    """How many tasks are runnable on the machine now, this process included (Linux's
    /proc/loadavg); None where that is not known."""
    try:
        with open("/proc/loadavg") as f:
            return int(f.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return None


class BaselineChild:
    """A forked child computing one scenario's unlimited-memory outcome, and drawing the blocks
    of the streams of the parent's run beside it."""

    def __init__(self, pid: int, read_fd: int, feed: BlockFeed):
        self.pid, self.read_fd, self.feed = pid, read_fd, feed

    @classmethod
    def start(cls, scenario: Scenario, beside: Simulation) -> BaselineChild | None:
        """Fork a child computing the outcome and feeding the streams of the run beside it
        (made, not run yet); None where the parent should compute the outcome."""
        if known_unlimited_outcome(scenario) is not None or not _may_fork():
            return None
        # The blocks of the streams of the run beside the child (each stream once).
        feed = BlockFeed(
            list({id(vc.stream.blocks): vc.stream.blocks for vc in beside.vcpus}.values())
        )
        # Started here, the child starts drawing at once (the parent needs it started too),
        # and each stream's first block is read here (the child keeps it too, where it is
        # kept): a child takes tens of milliseconds to get going, which the parent would
        # spend waiting.
        ready_runtime()
        for vc in beside.vcpus:
            vc.stream.take(vc.pos, 1)
        read_fd, write_fd = os.pipe()
        try:
            pid = os.fork()
        except OSError:  # no process to be had: the parent computes the baseline itself
            for fd in (read_fd, write_fd, feed.notes_w, feed.stop_r):
                os.close(fd)
            feed.close()
            return None
        if pid == 0:  # the child: compute, write, and end without the parent's exit handlers
            code = 1
            try:
                os.close(read_fd)
                feed.serve_in_child()
                # A few blocks of each stream first (the parent is about to read them), then,
                # between the steps of the baseline, the child keeps ahead of the parent's run.
                feed.keep_ahead()
                outcome = unlimited_outcome(scenario, on_step=feed.keep_ahead)
                # Plain arrays in numpy's format, no pickle: the parent reads numbers only.
                # Saved to memory first: numpy saves an array to a file through its position,
                # which a pipe does not have.
                saved = io.BytesIO()
                np.save(saved, outcome.references, allow_pickle=False)
                np.save(saved, np.int64(outcome.touched_pages), allow_pickle=False)
                with os.fdopen(write_fd, "wb") as out:
                    out.write(saved.getvalue())
                code = 0
                feed.feed_ahead()
            finally:
                os._exit(code)
        os.close(write_fd)
        feed.attach_in_parent()
        return cls(pid, read_fd, feed)

    def outcome(self) -> UnlimitedOutcome | None:
        """The child's outcome once it is done (the child reaped); None if it failed, and the
        parent then computes the baseline itself."""
        try:
            with os.fdopen(self.read_fd, "rb") as pipe:
                data = pipe.read()
            self.feed.close()  # the child stops drawing ahead, and ends
            _, status = os.waitpid(self.pid, 0)
        except BaseException:
            self.end()
            raise
        if not data or os.waitstatus_to_exitcode(status) != 0:
            return None
        stream = io.BytesIO(data)
        references = np.load(stream, allow_pickle=False)
        touched = np.load(stream, allow_pickle=False)
        references.flags.writeable = False  # shared, as unlimited_outcome's own
        return UnlimitedOutcome(references, int(touched))

    def end(self) -> None:
        """Stop the child and reap it (the parent's run failed: its figures are not needed)."""
        self.feed.close()
        with contextlib.suppress(OSError):  # it may have ended already
            os.kill(self.pid, signal.SIGTERM)
            os.waitpid(self.pid, 0)
        with contextlib.suppress(OSError):
            os.close(self.read_fd)
