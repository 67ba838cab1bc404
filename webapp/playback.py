"""Playback paced by the browser: the next frame leaves only after the last one was painted.

The play position runs in simulated time at `speed` ms per wall-clock second; each time the
browser acknowledges a painted frame the player sends the frame the position has reached (a
slow browser therefore skips frames instead of falling behind), or waits until the next frame
is due. Speed 0 means "as fast as frames are painted": every frame, one after another.

With many sessions playing, the server's frame governor (webapp/governor.py) sets the least
interval between two frames of one session; the player then holds the next frame until that
interval has passed, and then until the send time the governor reserved for it (so that
sessions' frames reach the loop one at a time, not in bursts), and sends the frame the play
position has reached by then (skipping the ones in between at a set speed). `held_s` is how
long the last frame was held on purpose (pacing, not waiting in a queue): the frame clock
carries it, so a round trip can be told apart from a deliberate pause.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol

import numpy as np

from webapp.governor import FrameGovernor
from webapp.state import SessionState

log = logging.getLogger(__name__)
log.setLevel(logging.INFO)  # (Bokeh sets only its own loggers to INFO) the server's log says so

WATCHDOG_S = 2.0  # an acknowledgement this late is taken as lost (hidden tab, dropped message)
PAGE_POLL_S = 1.0  # work for a closed page (play, statistics) looks this often if it is back


class Timers(Protocol):
    """What the player needs from an event loop (Bokeh's document, or a fake in tests)."""

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> Any: ...

    def cancel(self, handle: Any) -> None: ...

    def now(self) -> float: ...


class Player:
    """Drives `state.frame` while `state.playing`; `push(frame)` sends a frame, returns its seq."""

    def __init__(
        self,
        state: SessionState,
        timers: Timers,
        push: Callable[[int], int],
        governor: FrameGovernor | None = None,
    ):
        self.state = state
        self.timers = timers
        self.push = push
        self.governor = governor  # None: frames as fast as painted (no other session to share)
        self.cost_clock: Callable[[], float] = time.perf_counter  # times a frame's server work
        self.awaiting: int | None = None
        self.timer: Any = None
        self.watchdog: Any = None
        self.anchor_wall = 0.0
        self.anchor_sim_ns = 0.0
        self.sent = 0
        self.last_sent_at = float("-inf")  # timers.now() when the last frame left
        self.held_s = 0.0  # how long the frame being sent was held on purpose
        self._holding = 0.0  # held so far since the last acknowledgement
        # Whether the session's page is open (None: there is always one). Bokeh keeps a
        # session a while after its page closed; a player whose page closed mid-play is
        # suspended: it sends nothing and does not count among the governor's playing
        # sessions (which slow every session's background work), until the page is back.
        self.page_open: Callable[[], bool] | None = None
        self.unseen = False  # playing on a page that does not paint (not counted meanwhile)
        state.param.watch(self._on_playing, "playing")
        state.param.watch(lambda e: self.reanchor(), "speed")

    # -- control ------------------------------------------------------------------------------
    def _on_playing(self, event: Any) -> None:
        if event.new:
            self.start()
        else:
            self.stop()

    def _times(self) -> np.ndarray | None:
        runs = self.state.runs
        if runs is None or runs.n_frames < 2:
            return None
        s = runs.a if runs.a.n_frames >= runs.b.n_frames else runs.b
        return s.times_ns

    def start(self) -> None:
        times = self._times()
        if times is None:
            self.state.playing = False
            return
        if self.governor is not None:
            self.governor.playing(self)
        if self.state.frame >= times.size - 1:
            self._send(0)  # at the end, play starts again from the beginning
            self.reanchor()
            return
        self.reanchor()
        self._next()

    def stop(self) -> None:
        for handle in (self.timer, self.watchdog):
            if handle is not None:
                self.timers.cancel(handle)
        self.timer = self.watchdog = None
        self.awaiting = None
        self._holding = 0.0
        self.unseen = False
        if self.governor is not None:
            self.governor.stopped(self)

    def reanchor(self) -> None:
        """Play position := the frame on display, now (after a seek or a speed change)."""
        times = self._times()
        if times is None:
            return
        self.anchor_wall = self.timers.now()
        self.anchor_sim_ns = float(times[min(self.state.frame, times.size - 1)])

    # -- the loop -----------------------------------------------------------------------------
    def painted(self, seq: int) -> None:
        """The browser painted frame `seq` (or later)."""
        if self.unseen and self.state.playing:
            self.unseen = False  # painting again: it counts again
            if self.governor is not None:
                self.governor.playing(self)
        self._acknowledged(seq)

    def _acknowledged(self, seq: int) -> None:
        """Frame `seq` (or later) is taken as shown: painted, or its acknowledgement lost."""
        if self.awaiting is None or seq < self.awaiting:
            return
        self.awaiting = None
        self._holding = 0.0
        if self.watchdog is not None:
            self.timers.cancel(self.watchdog)
            self.watchdog = None
        if self.state.playing and self.timer is None:
            self._next()

    def _governed_wait_s(self) -> float:
        """How long the governor still asks this session to wait before its next frame."""
        if self.governor is None:
            return 0.0
        return self.last_sent_at + self.governor.interval_s() - self.timers.now()

    def _due(self) -> tuple[int, float] | None:
        """The frame to send next and how long until it is due (0: now), or None when play
        has ended (the last frame was shown and play does not loop)."""
        times = self._times()
        if times is None or not self.state.playing:
            return None
        i, n = self.state.frame, times.size
        speed = float(self.state.speed)
        delay = 0.0
        if speed <= 0:
            target = i + 1
        else:
            ns_per_s = speed * 1e6
            sim_now = self.anchor_sim_ns + (self.timers.now() - self.anchor_wall) * ns_per_s
            target = int(np.searchsorted(times, sim_now, side="right")) - 1
            if target <= i:
                target = i + 1
                if target < n:
                    due = self.anchor_wall + (float(times[target]) - self.anchor_sim_ns) / ns_per_s
                    delay = max(0.0, due - self.timers.now())
        if target >= n:
            if not self.state.loop:
                self.state.playing = False
                return None
            target = 0
        return target, delay

    def _next(self) -> None:
        due = self._due()
        if due is None:
            return
        target, delay = due
        governed = self._governed_wait_s()
        if governed > max(delay, 1e-3):
            # Too soon for the server: come back then, and send what the position has reached.
            self._hold(governed, self._next)
            return
        if self.governor is not None:
            now = self.timers.now()
            slot_s = self.governor.reserve(self, now + delay) - now
            if slot_s > max(delay, 0.0) + 1e-3:
                # Another session's frame has the loop then: send after it, the frame the
                # position has reached by that time.
                self._hold(slot_s, self._fire_due)
                return
        if delay > 0:
            self._hold(delay, lambda: self._fire(target))
        else:
            self._fire(target)

    def _hold(self, delay_s: float, then: Callable[[], None]) -> None:
        self._holding += delay_s

        def run() -> None:
            self.timer = None
            then()

        self.timer = self.timers.call_later(delay_s, run)

    def _fire_due(self) -> None:
        due = self._due()
        if due is not None:
            self._fire(due[0])

    def _fire(self, target: int) -> None:
        if not self.state.playing:
            return
        wrapped = target < self.state.frame
        self._send(target)
        if wrapped:
            self.reanchor()

    def _send(self, target: int) -> None:
        self.held_s, self._holding = self._holding, 0.0
        self.last_sent_at = self.timers.now()
        began = self.cost_clock()
        self.awaiting = self.push(target)
        if self.governor is not None:
            self.governor.spent(self, self.cost_clock() - began)
        self.sent += 1
        if self.watchdog is not None:
            self.timers.cancel(self.watchdog)
        seq = self.awaiting
        self.watchdog = self.timers.call_later(WATCHDOG_S, lambda: self._lost(seq))

    def _lost(self, seq: int) -> None:
        self.watchdog = None
        if self.awaiting != seq:
            return
        if self.page_open is not None and not self.page_open():
            self._suspend()
            return
        # Open but not painting (a hidden tab: the browser paints nothing there): a frame a
        # watchdog period keeps it near the play position, but nobody watches it, so it does
        # not count among the playing sessions until it paints again.
        if self.governor is not None and not self.unseen:
            self.unseen = True
            self.governor.stopped(self)
        self._acknowledged(seq)

    def _suspend(self) -> None:
        """The page closed while playing: no frames, no share of the governor's, and a look
        every PAGE_POLL_S whether it is back (then play goes on from the frame on display).
        Play stays on: only the player stops."""
        self.stop()
        log.info("a page closed while playing: its play is suspended until it is back")
        self.timer = self.timers.call_later(PAGE_POLL_S, self._resume_if_back)

    def _resume_if_back(self) -> None:
        self.timer = None
        if not self.state.playing:
            return
        if self.page_open is not None and not self.page_open():
            self.timer = self.timers.call_later(PAGE_POLL_S, self._resume_if_back)
            return
        if self.governor is not None:
            self.governor.playing(self)
        self.reanchor()
        self._next()


def governed(
    player: Player,
    governor: FrameGovernor,
    hold: Callable[[], AbstractContextManager[Any]],
    set_held_ms: Callable[[float], None],
) -> None:
    """Serve `player` under `governor`, and send how long each frame was held on purpose
    (`set_held_ms`, e.g. the frame clock's field) in the same batch as the frame (`hold`)."""
    push = player.push

    def push_with_hold(frame: int) -> int:
        with hold():
            set_held_ms(player.held_s * 1000.0)
            return push(frame)

    player.governor = governor
    player.push = push_with_hold
