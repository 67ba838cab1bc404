"""Interactive work first: while a visitor waits for a page or for a new run's first frame, the
server's background computations (the statistics' other seeds, the warm-up of the other
shipped scenarios) pause between two simulation steps; while any session plays, they trickle.

Simulations hold the GIL; one running beside a session's page build or first paint takes
about half of the event loop's time, so the page a visitor waits for comes twice as late.
A wait is bounded twice: a hold lapses by itself after HOLD_MAX_S (a page that never
paints must not stop the server's other work), and a paused run wakes when cancelled.

Playing sessions share the loop with every background simulation in the server: twenty
sessions with five seeds each leave up to eighty seeds computing beside their frames, and
each step of one delays the next frame of every session. While any session plays (the frame
governor counts them: a page that paints what it plays, not one hidden or closed,
webapp.playback), background work therefore runs one step at a time server-wide, and
after a step of t seconds the next background step waits t * (1 / PLAY_SHARE - 1): all of it
together takes at most about PLAY_SHARE of the time while sessions play. It never stops
outright (a tab left playing in a loop must not keep statistics from ever completing), and it
goes back to full speed within _POLL_S of the last session pausing. Results are unchanged:
only the moments between steps move.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

from webapp.governor import GOVERNOR

HOLD_MAX_S = 10.0  # the longest a hold pauses background work (no paint came)
PLAY_SHARE = 0.05  # of the time while sessions play that background steps may take together
LANE_LAPSE_S = 1.0  # a step not back by then (its run ended or was cancelled) frees the lane
_POLL_S = 0.25  # a paused run looks at its cancel flag (and at the players) this often

Aside = Callable[[], contextlib.AbstractContextManager[Any]]  # what a waiting run lets go of

_changed = threading.Condition()
_holds: dict[int, float] = {}  # hold id -> monotonic deadline
_ids = itertools.count(1)


class _Lane:
    """The one background step allowed at a time while sessions play (server-wide)."""

    def __init__(self) -> None:
        self.owner: int | None = None  # thread id of the step running in the lane
        self.since = 0.0  # when that step began
        self.next_at = 0.0  # monotonic time the next background step may begin

    def free(self, now: float) -> bool:
        return self.owner is None or now - self.since > LANE_LAPSE_S

    def finish(self, me: int, now: float) -> None:
        """`me` is back from its step: the next one waits in proportion to it."""
        if self.owner == me:
            step_s = now - self.since
            self.next_at = now + step_s * (1.0 / PLAY_SHARE - 1.0)
            self.owner = None

    def take(self, me: int, now: float) -> None:
        self.owner, self.since = me, now


_lane = _Lane()


def hold(max_s: float = HOLD_MAX_S) -> int:
    """Pause background work until `release(id)` or for `max_s` seconds; returns the id."""
    with _changed:
        hold_id = next(_ids)
        _holds[hold_id] = time.monotonic() + max_s
        return hold_id


def release(hold_id: int | None) -> None:
    """End a hold (idempotent; None is no hold)."""
    if hold_id is None:
        return
    with _changed:
        if _holds.pop(hold_id, None) is not None:
            _changed.notify_all()


def held() -> bool:
    """Whether some visitor is waiting now (lapsed holds are dropped)."""
    with _changed:
        return _next_deadline() is not None


def anyone_playing() -> bool:
    """Whether some session of this server plays now."""
    return GOVERNOR.n_playing() > 0


def _next_deadline() -> float | None:
    now = time.monotonic()
    for hold_id in [h for h, deadline in _holds.items() if deadline <= now]:
        del _holds[hold_id]
    return min(_holds.values(), default=None)


def _wait_s(me: int) -> tuple[float, bool]:
    """How long background thread `me` should wait before its next step (0: go on; it then
    owns the lane if sessions play), and whether for a waiting visitor (else for playing
    sessions). Called with `_changed` held."""
    now = time.monotonic()
    _lane.finish(me, now)
    deadline = _next_deadline()
    if deadline is not None:
        return max(1e-3, deadline - now), True
    if not anyone_playing():
        return 0.0, False
    if _lane.free(now) and now >= _lane.next_at:
        _lane.take(me, now)
        return 0.0, False
    return max(1e-3, _lane.next_at - now), False


def yield_to_foreground(cancel: threading.Event, aside: Aside | None = None) -> None:
    """Background work calls this between steps: it returns at once when nobody waits and
    nobody plays, else when the holds end (released or lapsed), its turn in the trickle while
    sessions play comes, or `cancel` is set. While it waits its turn in the trickle,
    `aside()` is entered (e.g. to give back a compute slot that a visitor's own run may need
    meanwhile); a visitor's hold is short and pauses it in place."""
    me = threading.get_ident()
    while not cancel.is_set():
        with _changed:
            wait_s, for_visitor = _wait_s(me)
            if wait_s <= 0.0:
                return
            if for_visitor:
                _changed.wait(timeout=min(_POLL_S, wait_s))
                continue
        # Set aside once for the whole turn (taking a compute slot back at every poll would
        # make a visitor's run, waiting for a slot, race a crowd of pollers for it).
        with aside() if aside is not None else contextlib.nullcontext(), _changed:
            while not cancel.is_set():
                _changed.wait(timeout=min(_POLL_S, wait_s))
                wait_s, for_visitor = _wait_s(me)
                if wait_s <= 0.0:
                    return
                if for_visitor:
                    break


class SessionHold:
    """One session's hold: on while its visitor waits (the page, a run, its first frame),
    off at the next paint or when the session ends."""

    def __init__(self, max_s: float = HOLD_MAX_S):
        self.max_s = max_s
        self.hold_id: int | None = None

    def start(self) -> None:
        release(self.hold_id)
        self.hold_id = hold(self.max_s)

    def end(self) -> None:
        release(self.hold_id)
        self.hold_id = None
