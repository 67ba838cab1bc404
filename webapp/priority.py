"""Interactive work first: while a visitor waits for a page or for a new run's first frame, the
server's background computations (the statistics' other seeds, the warm-up of the other
shipped scenarios) pause between two simulation steps.

Simulations hold the GIL; one running beside a session's page build or first paint takes
about half of the event loop's time, so the page a visitor waits for comes twice as late.
A wait is bounded twice: a hold lapses by itself after HOLD_MAX_S (a page that never
paints must not stop the server's other work), and a paused run wakes when cancelled.
"""

from __future__ import annotations

import itertools
import threading
import time

HOLD_MAX_S = 10.0  # the longest a hold pauses background work (no paint came)
_POLL_S = 0.25  # a paused run looks at its cancel flag this often

_changed = threading.Condition()
_holds: dict[int, float] = {}  # hold id -> monotonic deadline
_ids = itertools.count(1)


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


def _next_deadline() -> float | None:
    now = time.monotonic()
    for hold_id in [h for h, deadline in _holds.items() if deadline <= now]:
        del _holds[hold_id]
    return min(_holds.values(), default=None)


def yield_to_foreground(cancel: threading.Event) -> None:
    """Background work calls this between steps: it returns at once when nobody waits, else
    when the holds end (released or lapsed) or `cancel` is set."""
    with _changed:
        while not cancel.is_set():
            deadline = _next_deadline()
            if deadline is None:
                return
            _changed.wait(timeout=min(_POLL_S, max(0.0, deadline - time.monotonic())))


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
