"""A virtual CPU: where it is in its reference stream, what it is doing, and its activity
(bursts of running and sleeps drawn from its own seeded generator)."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.workloads import RefStream

FOREVER = 1 << 62
RUNNABLE, RUNNING, SLEEPING, BLOCKED, FINISHED = range(5)


class VCpu:
    """One virtual CPU: where it is in its reference stream and what it is doing."""

    def __init__(
        self,
        index: int,
        vm: int,
        base: int,
        vm_pages: int,
        stream: RefStream,
        activity: Any,
        rng: np.random.Generator,
        refs_limit: int | None,
    ):
        self.index = index
        self.vm = vm
        self.base = base
        self.vm_pages = vm_pages
        self.stream = stream
        self.cpu_ns = stream.cpu_ns
        self.pos = 0
        self.activity = activity
        self.rng = rng
        self.refs_limit = refs_limit
        self.status = RUNNABLE
        self.wake_ns = -1
        self.blocked_until = -1
        self.enqueued_ns = 0
        self.burst_left_ns = self.draw_burst()

    def draw_burst(self) -> int:
        a = self.activity
        if a.kind == "always":
            return FOREVER
        if a.kind == "duty":
            return max(1, int(a.burst_ms * 1e6))
        return max(1, int(self.rng.exponential(a.burst_ms * 1e6)))

    def draw_sleep(self) -> int:
        a = self.activity
        if a.kind == "random":
            return int(self.rng.exponential(a.sleep_ms * 1e6))
        return int(a.sleep_ms * 1e6)

    def consume(self, n: int) -> None:
        self.pos += n
        self.burst_left_ns -= n * self.cpu_ns

    def stream_done(self) -> bool:
        return self.refs_limit is not None and self.pos >= self.refs_limit

    def refs_left(self) -> int:
        return FOREVER if self.refs_limit is None else self.refs_limit - self.pos
