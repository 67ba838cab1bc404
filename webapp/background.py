"""The seeds after the first, run in the background: one at a time on the session's runner
(its one worker thread, inside the server's compute slots), each cancellable, and only while
the session's page is open.

The chain never runs two of its seeds at once, so a session holds at most one compute slot
for statistics, and an edit (which stops the chain) frees the worker within a step.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from webapp.playback import PAGE_POLL_S, Timers
from webapp.runner import Cancelled, PageClosed, PageOpen, Runner, compute_seed
from webapp.seeds import SeedRecord

log = logging.getLogger(__name__)


class BackgroundSeeds:
    """Runs a list of seeds of one (scenario, A, B), handing each record to `landed` on the
    session's event loop, and `failed(seed, error)` if one cannot run (the chain then stops).
    `runner()` is asked at each seed: the session may swap its runner (a cached first run).
    `page_open()`: whether the session's page is open. While it is not, no seed starts: the
    chain looks again every PAGE_POLL_S (the player's) on `timers` (the session's loop, whose
    callbacks go with the session), and a seed its page left mid-run (PageClosed) is put back
    first."""

    def __init__(
        self,
        runner: Callable[[], Runner],
        landed: Callable[[SeedRecord], None],
        failed: Callable[[int, BaseException], None],
        page_open: PageOpen | None = None,
        timers: Timers | None = None,
    ):
        self.runner = runner
        self.page_open = page_open if timers is not None else None
        self.timers = timers
        self.landed = landed
        self.failed = failed
        self.generation = 0
        self.cancel = threading.Event()
        self.todo: list[int] = []
        self.current: int | None = None  # the seed handed to the runner last
        self.inputs: tuple[dict[str, Any], dict[str, Any], dict[str, Any]] | None = None
        self.running = False
        self.runs_started = 0  # seeds handed to the runner (tests count them)

    def start(
        self, inputs: tuple[dict[str, Any], dict[str, Any], dict[str, Any]], seeds: list[int]
    ) -> None:
        """Run `seeds` (after stopping whatever chain was going)."""
        self.stop()
        self.todo = list(seeds)
        self.inputs = inputs
        self._next(self.generation, inputs, self.cancel)

    def make_way(self, submit: Callable[[], None]) -> None:
        """Let a job the user waits for (another seed to show) run next on the session's one
        worker: the seed computing now is cancelled and put first in line again, `submit`
        hands the job to the runner, and the chain goes on after it."""
        if not self.running or self.inputs is None or self.current is None:
            submit()
            return
        todo, inputs = [self.current, *self.todo], self.inputs
        self.stop()
        submit()
        self.todo = todo
        self._next(self.generation, inputs, self.cancel)

    def stop(self) -> None:
        """Cancel the seed computing now and drop the rest; a result still on its way is
        ignored when it arrives."""
        self.cancel.set()
        self.cancel = threading.Event()
        self.generation += 1
        self.todo = []
        self.running = False

    def _next(
        self,
        generation: int,
        inputs: tuple[dict[str, Any], dict[str, Any], dict[str, Any]],
        cancel: threading.Event,
    ) -> None:
        if generation != self.generation:
            return
        if not self.todo:
            self.running = False
            return
        if self.page_open is not None and self.timers is not None and not self.page_open():
            # The chain goes on (running), with no seed computing for make_way to put back.
            self.running, self.current = True, None
            self.timers.call_later(PAGE_POLL_S, lambda: self._next(generation, inputs, cancel))
            return
        seed = self.todo.pop(0)
        self.current = seed
        self.running = True
        self.runs_started += 1
        scenario, a, b = inputs

        def done(outcome: Any) -> None:
            if generation != self.generation:
                return
            if isinstance(outcome, PageClosed):  # again once the page is back
                self.todo.insert(0, seed)
                self._next(generation, inputs, cancel)
                return
            if isinstance(outcome, Cancelled):
                return
            if isinstance(outcome, BaseException):
                log.error("a background seed failed", exc_info=outcome)
                self.running = False
                self.todo = []
                self.failed(seed, outcome)
                return
            self.running = bool(self.todo)  # the last seed's landing reads "all in"
            self.landed(outcome)
            self._next(generation, inputs, cancel)

        page_open = self.page_open
        self.runner().submit(
            lambda: compute_seed(scenario, a, b, seed, cancel, page_open=page_open), done
        )
