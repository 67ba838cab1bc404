"""Full garbage collections wait while sessions play (at most one per FULL_EVERY_S then).

Python collects its oldest generation when enough objects survived the younger ones; with
twenty sessions open that scan holds the server's one event loop for 0.1-1.5 s (measured:
one full collection of 1.5 s in 6 s of twenty sessions playing on a busy machine), and every
playing session's next frame waits for it: the tail of the frame round trip is those pauses.
What playback allocates is freed by reference counting (its cycles are few), so while any
session plays the automatic full collections are put off: the oldest generation's threshold
is raised out of reach. Not for ever: once FULL_EVERY_S has passed since the last full
collection (or since play began), the usual threshold is back until Python has run one, and
then the wait starts again. When the last session stops playing the usual threshold returns.
Explicit `gc.collect()` calls (a closed session's release, webapp.lifecycle) are unaffected.

One pacer serves the whole process (`COLLECTOR`), driven by the frame governor, which knows
how many sessions play.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable
from typing import Any

FULL_EVERY_S = 60.0  # while sessions play, at most one automatic full collection this often
_OUT_OF_REACH = 1 << 30  # a gen-2 threshold no count of gen-1 collections reaches


class CollectionPacer:
    """Raises the oldest generation's collection threshold while sessions play, and lets one
    full collection through every `full_every_s`."""

    def __init__(
        self,
        full_every_s: float = FULL_EVERY_S,
        now: Callable[[], float] = time.monotonic,
        get_threshold: Callable[[], tuple[int, ...]] = gc.get_threshold,
        set_threshold: Callable[..., None] = gc.set_threshold,
    ):
        self.full_every_s = full_every_s
        self.now = now
        self._get, self._set = get_threshold, set_threshold
        self._usual: int | None = None  # the gen-2 threshold to give back; None: not deferring
        self._since = 0.0  # when the current wait for a full collection began
        # Re-entrant: `collected` runs inside a collection, which an allocation in `update`
        # may start.
        self._lock = threading.RLock()

    @property
    def deferring(self) -> bool:
        return self._usual is not None and self._get()[2] == _OUT_OF_REACH

    def update(self, anyone_playing: bool) -> None:
        """Sessions play (or not) now: defer full collections, let one through if it is time,
        or give the usual threshold back."""
        with self._lock:
            if not anyone_playing:
                self._restore()
                return
            now = self.now()
            if self._usual is None:
                self._usual = self._get()[2]
                self._since = now
                self._raise()
            elif self.deferring and now - self._since >= self.full_every_s:
                self._set(*self._get()[:2], self._usual)  # the next one may run

    def collected(self) -> None:
        """A full collection just ran: the wait for the next starts now."""
        with self._lock:
            if self._usual is None:
                return
            self._since = self.now()
            self._raise()

    def _raise(self) -> None:
        self._set(*self._get()[:2], _OUT_OF_REACH)

    def _restore(self) -> None:
        if self._usual is not None:
            if self._get()[2] == _OUT_OF_REACH:
                self._set(*self._get()[:2], self._usual)
            self._usual = None


COLLECTOR = CollectionPacer()


def _on_collection(phase: str, info: dict[str, Any]) -> None:
    if phase == "stop" and info.get("generation") == 2:
        COLLECTOR.collected()


gc.callbacks.append(_on_collection)
