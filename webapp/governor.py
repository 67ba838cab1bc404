"""The frame governor: one server, one event loop, many playing sessions share it fairly.

Every frame a session sends costs the server's event loop some time (building the patch,
serialising it, writing it). With many sessions playing at once that work alone could fill the
loop, and then everything queues behind it: acknowledgements, clicks, /liveness, other
sessions' frames; each round trip grows with the number of sessions. The governor keeps the
frames' share of the loop below `target_share`: it measures what each playing session's
frames cost (a moving average) and gives every playing session the same least interval
between two of its frames, long enough that all of them together stay under the target.
A session therefore degrades by skipping frames (the player keeps simulated time right and
shows the frame the play position has reached), never by waiting in a queue, and no session
is starved: each one's interval is the same, whatever its own frames cost.

The same interval for all is not enough on its own: sessions that pressed Play together stay
in step, their frames fall due together, and a burst of twenty frames is a queue in which the
last waits for the nineteen before it (the tail of the round trip grows with the number of
sessions). So each frame also reserves a send time (`reserve`): consecutive frames of all
sessions are at least their cost / target_share apart, first come first served. The loop
then sees frames one at a time, each arriving at a loop that is (on average) idle, and the
round trip stays near one session's.

One governor serves the whole process (`GOVERNOR`): the loop it protects is shared by every
session. It holds no session's state but a number per playing session, keyed by an object
the session owns and dropped when it stops playing. It tells `on_playing` whether anyone
plays at each change and each frame (the process's garbage-collection pacing, see
webapp/collector.py: a full collection holds the loop as long as a burst of frames would).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable

from webapp.collector import COLLECTOR

TARGET_SHARE = 0.5  # of the loop's time that playing sessions' frames may take together
COST_WEIGHT = 0.2  # weight of the newest frame in a session's moving average of frame cost
FIRST_COST_S = 0.005  # a session's frame cost before its first frame was measured
MAX_INTERVAL_S = 1.0  # however many play, each session gets at least a frame a second


class FrameGovernor:
    """Least interval between two frames of one playing session, so that all playing
    sessions' frames together keep the event loop's busy share under `target_share`."""

    def __init__(
        self,
        target_share: float = TARGET_SHARE,
        now: Callable[[], float] = time.monotonic,
        max_interval_s: float = MAX_INTERVAL_S,
        on_playing: Callable[[bool], None] | None = None,
    ):
        if not 0.0 < target_share <= 1.0:
            raise ValueError(f"target_share must be in (0, 1], got {target_share!r}")
        self.target_share = target_share
        self.now = now
        self.max_interval_s = max_interval_s
        self.on_playing = on_playing
        self._cost_s: dict[Hashable, float] = {}
        self._measured: set[Hashable] = set()
        self._next_free_s = float("-inf")  # the earliest send time not reserved yet
        self._lock = threading.Lock()  # sessions' callbacks may come from several threads

    def playing(self, session: Hashable) -> None:
        """`session` plays: it counts in everyone's interval from now on."""
        with self._lock:
            self._cost_s.setdefault(session, FIRST_COST_S)
        self._tell()

    def stopped(self, session: Hashable) -> None:
        """`session` paused or closed: it no longer counts."""
        with self._lock:
            self._cost_s.pop(session, None)
            self._measured.discard(session)
        self._tell()

    def spent(self, session: Hashable, seconds: float) -> None:
        """One frame of `session` took `seconds` of the loop."""
        seconds = max(0.0, float(seconds))
        with self._lock:
            old = self._cost_s.get(session)
            if old is None:
                return  # not playing (a frame sent by a seek): it does not count
            if session not in self._measured:
                self._measured.add(session)  # the first measurement replaces the guess
                self._cost_s[session] = seconds
            else:
                self._cost_s[session] = old + COST_WEIGHT * (seconds - old)

    def reserve(self, session: Hashable, earliest_s: float) -> float:
        """When `session` may send the frame it has due at `earliest_s` (same clock): the first
        time on or after it that no other playing session's frame has reserved; the loop's
        time that frame takes (its cost, at the target share) is reserved from then. A
        session that does not play is not paced. Never more than max_interval_s late."""
        with self._lock:
            cost = self._cost_s.get(session)
            if cost is None:
                return earliest_s
            start = min(max(earliest_s, self._next_free_s), earliest_s + self.max_interval_s)
            self._next_free_s = max(self._next_free_s, start + cost / self.target_share)
        self._tell()
        return start

    def _tell(self) -> None:
        if self.on_playing is not None:
            self.on_playing(self.n_playing() > 0)

    def n_playing(self) -> int:
        with self._lock:
            return len(self._cost_s)

    def interval_s(self) -> float:
        """The least time between two frames of any one playing session: one frame of every
        playing session fits in it `1 / target_share` times over (bounded by max_interval_s)."""
        with self._lock:
            total = sum(self._cost_s.values())
        return min(self.max_interval_s, total / self.target_share)


GOVERNOR = FrameGovernor(on_playing=COLLECTOR.update)
