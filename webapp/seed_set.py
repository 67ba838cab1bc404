"""The seeds of the runs on display, for one session: which are done, when the others start
(after the first seed's paint), stopping them when the inputs change, and what the page shows
of them (the seeds done, their statistics, 'seeds: 3 of 5').

The controller decides what runs for display; this keeps the records of the statistics and
the background chain that fills them, and publishes them to the state and the display.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from webapp.background import BackgroundSeeds
from webapp.playback import Timers
from webapp.runner import PageOpen, Runner
from webapp.runs import RunPair
from webapp.seeds import SeedRecord, pair_record, seed_list, seed_stats
from webapp.state import SessionState

# The other seeds start when the browser has painted the first seed's frame; if it never says
# so (a tab in the background, a page without a browser), this long after the runs arrived.
SEEDS_FALLBACK_S = 5.0

Inputs = tuple[dict[str, Any], dict[str, Any], dict[str, Any]]  # scenario (own seed), A, B


class SeedsDisplay(Protocol):
    def set_seeds(self, stats: Any, shown_seed: int | None) -> None: ...


class SeedSet:
    """Records of the seeds done for the inputs on display, and the chain computing the rest."""

    def __init__(
        self,
        state: SessionState,
        display: SeedsDisplay,
        timers: Timers,
        runner: Callable[[], Runner],
        readable: Callable[[BaseException], str],
        page_open: PageOpen | None = None,
    ):
        self.state = state
        self.display = display
        self.timers = timers
        self.readable = readable
        self.background = BackgroundSeeds(runner, self._landed, self._failed, page_open, timers)
        self.records: dict[int, SeedRecord] = {}
        self.inputs: Inputs | None = None
        self.due = False  # the other seeds wait for the first paint
        self._timer: Any = None
        self.closed = False  # the session ended: its document may be gone, publish nothing

    def seeds(self) -> list[int]:
        """The seeds of the runs on display (the first is the scenario's own), or []."""
        if self.inputs is None:
            return []
        return seed_list(self.inputs[0]["seed"], self.state.n_seeds)

    def arrived(self, runs: RunPair, fresh: Inputs | None) -> None:
        """Runs for display came in. `fresh`: the inputs of a new set of seeds (the records
        start again, with these runs, and the others wait for the paint); None: another seed
        of the set on display."""
        seed = int(runs.scenario_dict["seed"])
        if fresh is not None:
            self.inputs = fresh
            self.records = {seed: pair_record(seed, runs)}
            self.due = True
            self._cancel_timer()
            self._timer = self.timers.call_later(SEEDS_FALLBACK_S, self.start)
        self.state.shown_seed = seed
        self.publish()

    def painted(self) -> None:
        """The browser painted a frame: the first seed is on screen."""
        if self.due:
            self.start()

    def start(self) -> None:
        """Run the seeds not done yet, one at a time in the background (once per new set of
        runs: the first paint or the fallback timer, whichever comes first)."""
        self._cancel_timer()
        if not self.due or self.inputs is None:
            return
        self.due = False
        todo = [s for s in self.seeds() if s not in self.records]
        if todo:
            self.background.start(self.inputs, todo)
        self.publish()

    def stop(self) -> None:
        """Stop the seeds in the background (the inputs changed, or the session ends)."""
        self.due = False
        self._cancel_timer()
        if self.background.running:
            self.background.stop()
            self.publish()

    def resize(self) -> None:
        """The number of seeds changed: keep the records of the seeds still wanted and run
        the missing ones at once (the first seed has long been painted)."""
        if self.inputs is None:
            return
        self.background.stop()
        wanted = self.seeds()
        self.records = {s: r for s, r in self.records.items() if s in wanted}
        self.due = True
        self.start()

    def close(self) -> None:
        """The session ends: stop every seed and never touch its document again (Bokeh may
        have destroyed it already)."""
        self.closed = True
        self.stop()
        self.background.stop()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self.timers.cancel(self._timer)
            self._timer = None

    def _landed(self, record: SeedRecord) -> None:
        if record.seed in self.seeds():
            self.records[record.seed] = record
        self.publish()

    def _failed(self, seed: int, error: BaseException) -> None:
        self.publish()
        self.state.seeds_progress += f" (seed {seed} could not run: {self.readable(error)[:200]})"

    def publish(self) -> None:
        """Put the seeds done, their statistics and the count in the state and the display."""
        if self.closed:
            return
        st = self.state
        done = [s for s in self.seeds() if s in self.records]
        stats = seed_stats(self.records[s] for s in done) if done else None
        st.seeds_done = done
        st.seed_stats = stats
        n = len(self.seeds())
        if n <= 1 or not done:
            st.seeds_progress = ""
        elif self.background.running:
            st.seeds_progress = f"seeds: {len(done)} of {n} (the others run in the background)"
        else:
            st.seeds_progress = f"seeds: {len(done)} of {n}"
        self.display.set_seeds(stats, st.shown_seed)
