"""The frame governor and governed playback, on manual timers: many sessions playing at max
speed share the event loop fairly and keep it below the target share; a session at a set
speed skips frames but keeps simulated time right; a lone session is not slowed."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.webapp.conftest import FakeTimers
from webapp.governor import FrameGovernor
from webapp.playback import Player, governed
from webapp.state import SessionState


class FakeRuns:
    """What the player reads of a pair of runs: frame times, 1 ms apart."""

    def __init__(self, n_frames: int):
        self.n_frames = n_frames
        self.a = self.b = self
        self.times_ns = np.arange(n_frames, dtype=np.int64) * 1_000_000


def session(
    timers: FakeTimers,
    governor: FrameGovernor | None,
    cost_s: float,
    paint_s: float = 0.0,
    n_frames: int = 10**6,
) -> tuple[Any, Player, list[int]]:
    """A session whose frame costs the loop cost_s (the fake clock moves while it is built)
    and whose browser acknowledges each frame paint_s after it was sent."""
    from webapp.state import SessionState

    state = SessionState()
    state.runs = FakeRuns(n_frames)
    state.loop = True
    sent: list[int] = []
    holder: list[Player] = []

    def push(frame: int) -> int:
        timers.t += cost_s  # the loop is busy building and writing the frame
        state.frame = frame
        sent.append(frame)
        seq = len(sent)
        timers.call_later(paint_s, lambda: holder[0].painted(seq))
        return seq

    player = Player(state, timers, push, governor)
    player.cost_clock = timers.now
    holder.append(player)
    return state, player, sent


def test_interval_fits_every_playing_sessions_frame_under_the_target_share() -> None:
    """Two sessions whose frames cost 10 ms and 30 ms, at a target share of 0.5, are each
    given 80 ms between frames; a session that stops no longer counts; a frame measured for
    a session that does not play is ignored; the interval is capped."""
    gov = FrameGovernor(target_share=0.5, max_interval_s=1.0)
    a, b = object(), object()
    gov.playing(a)
    gov.playing(b)
    for _ in range(200):
        gov.spent(a, 0.010)
        gov.spent(b, 0.030)
    assert gov.interval_s() == pytest.approx(0.080, rel=1e-3)
    gov.stopped(b)
    gov.spent(b, 5.0)
    assert gov.n_playing() == 1
    assert gov.interval_s() == pytest.approx(0.020, rel=1e-3)
    gov.spent(a, 100.0)
    assert gov.interval_s() == 1.0


def test_a_target_share_outside_zero_to_one_is_refused() -> None:
    """The target is a share of the loop's time: 0 or above 1 is an error naming the range."""
    for bad in (0.0, 1.5, -1.0):
        with pytest.raises(ValueError, match=r"target_share must be in \(0, 1\]"):
            FrameGovernor(target_share=bad)


@pytest.mark.parametrize("governor_on", [True, False])
def test_twenty_sessions_at_max_speed_share_the_loop_fairly(governor_on: bool) -> None:
    """20 sessions at max speed, 10 ms of loop time per frame, for 20 s: governed, the frames
    take at most the target share (0.5) of the loop plus one frame's slack, and every session
    gets within 10 % of the same number of frames (none starved); ungoverned, frames fill the
    loop (which is why the governor exists)."""
    timers = FakeTimers()
    gov = FrameGovernor(target_share=0.5) if governor_on else None
    sessions = [session(timers, gov, 0.010) for _ in range(20)]
    start = timers.t
    for state, _, _ in sessions:
        state.speed = 0
        state.playing = True
    timers.advance(20.0)
    elapsed = timers.t - start
    counts = [len(sent) for _, _, sent in sessions]
    busy = sum(counts) * 0.010
    if governor_on:
        assert busy / elapsed <= 0.5 + 0.010 * 20 / elapsed, (busy, elapsed)
        assert min(counts) >= 0.9 * max(counts), counts
        assert min(counts) >= 20 * 0.8 / (20 * 0.010 / 0.5), counts  # ~2.5 frames/s each
    else:
        assert busy / elapsed > 0.95


def test_a_governed_session_at_a_set_speed_skips_frames_and_keeps_time() -> None:
    """Playing 1 ms frames at 1000 ms/s (a frame due every 1 ms of wall time) beside 9 other
    sessions, a session gets fewer frames than due, but each frame it is sent is the one
    the play position has reached (within the governor's interval)."""
    timers = FakeTimers()
    gov = FrameGovernor(target_share=0.5)
    others = [session(timers, gov, 0.005) for _ in range(9)]
    state, player, sent = session(timers, gov, 0.005)
    for s, _, _ in others:
        s.speed = 0
        s.playing = True
    state.speed = 1000
    state.playing = True
    t0 = timers.t
    timers.advance(5.0)
    interval = gov.interval_s()
    assert interval == pytest.approx(10 * 0.005 / 0.5, rel=0.05)
    assert 0 < len(sent) < 5000 / 2  # frames were skipped...
    lag_ms = (timers.t - t0) * 1000 - sent[-1]
    assert 0 <= lag_ms <= (interval + 0.01) * 1000  # ... and the last one is where play is
    assert np.all(np.diff(sent) >= 1)
    assert player.held_s >= 0.0


def test_a_lone_session_is_not_held() -> None:
    """One session whose frames cost 5 ms and whose browser needs 20 ms to paint is never
    held: the governor's interval (10 ms) is shorter than its own round trip."""
    timers = FakeTimers()
    gov = FrameGovernor(target_share=0.5)
    state, player, sent = session(timers, gov, 0.005, paint_s=0.020)
    held: list[float] = []
    push = player.push

    def push_and_note(frame: int) -> int:
        held.append(player.held_s)
        return push(frame)

    player.push = push_and_note
    state.speed = 0
    state.playing = True
    timers.advance(2.0)
    assert len(sent) > 2.0 / 0.025 * 0.9
    assert max(held) == 0.0


def test_the_frame_clock_carries_how_long_a_frame_was_held() -> None:
    """`governed` wraps the player's push so the held time is set inside the frame's batch,
    and registers the player with the governor once it plays, and off when it stops."""
    timers = FakeTimers()
    gov = FrameGovernor(target_share=0.5)
    state, player, _ = session(timers, None, 0.010)
    batches: list[str] = []
    held_ms: list[float] = []

    class Hold:
        def __enter__(self) -> None:
            batches.append("open")

        def __exit__(self, *exc: object) -> None:
            batches.append("close")

    governed(player, gov, Hold, held_ms.append)
    other = session(timers, gov, 0.050)
    other[0].speed = 0
    other[0].playing = True
    state.speed = 0
    state.playing = True
    assert gov.n_playing() == 2
    timers.advance(1.0)
    assert batches[:2] == ["open", "close"] and len(held_ms) == batches.count("open")
    assert max(held_ms) > 0.0  # the other session's costly frames made it wait
    state.playing = False
    assert gov.n_playing() == 1


def test_sessions_started_together_send_one_at_a_time_not_in_bursts() -> None:
    """20 sessions pressing Play at the same moment, frames costing 5-15 ms of loop time and
    painted 0-40 ms after they were sent (seeded): 95 % of frames leave within 4 ms of their
    acknowledgement, less the time held on purpose (frames reach the loop one at a time
    instead of queueing in bursts: evenly paced alone, this was 8 ms), and every session gets
    within 10 % of the same number of frames."""
    rng = np.random.default_rng(1)
    timers = FakeTimers()
    gov = FrameGovernor(target_share=0.5)
    waits: list[float] = []
    sent_by: list[list[int]] = []
    for _ in range(20):
        state = SessionState()
        state.runs = FakeRuns(10**6)
        state.loop = True
        holder: list[Player] = []
        acked_at = [timers.t]
        sent: list[int] = []

        def push(
            frame: int,
            state: SessionState = state,
            holder: list[Player] = holder,
            acked_at: list[float] = acked_at,
            sent: list[int] = sent,
        ) -> int:
            player = holder[0]
            waits.append(timers.t - acked_at[0] - player.held_s)
            timers.t += rng.uniform(0.005, 0.015)
            state.frame = frame
            sent.append(frame)
            seq = len(sent)

            def paint() -> None:
                acked_at[0] = timers.t
                player.painted(seq)

            timers.call_later(rng.uniform(0.0, 0.040), paint)
            return seq

        player = Player(state, timers, push, gov)
        player.cost_clock = timers.now
        holder.append(player)
        sent_by.append(sent)
        state.speed = 0
        state.playing = True
    timers.advance(30.0)
    counts = [len(sent) for sent in sent_by]
    assert min(counts) >= 0.9 * max(counts), counts
    late = sorted(waits[40:])  # after the first two frames of each, which start at once
    assert late[int(0.95 * len(late))] <= 0.004, late[-20:]


def _watched_session(timers: FakeTimers, gov: FrameGovernor) -> tuple[Any, Player, list, dict]:
    """A session playing every frame whose page acknowledges each frame 10 ms after it was
    sent while it is open and painting; (state, player, frames sent, page)."""
    page = {"open": True, "painting": True}
    state = SessionState()
    state.runs = FakeRuns(10**6)
    state.loop = True
    sent: list[int] = []
    holder: list[Player] = []

    def push(frame: int) -> int:
        state.frame = frame
        sent.append(frame)
        seq = len(sent)
        if page["open"] and page["painting"]:
            timers.call_later(0.01, lambda: holder[0].painted(seq))
        return seq

    player = Player(state, timers, push, gov)
    player.page_open = lambda: page["open"]
    holder.append(player)
    state.speed = 0  # every frame, as fast as painted
    state.playing = True
    return state, player, sent, page


def test_a_hidden_page_gets_a_frame_a_watchdog_period_and_does_not_count_as_playing() -> None:
    """A playing page that stops painting (a hidden tab: open, nothing painted) gets a frame
    each watchdog period, but nobody watches it: it does not count among the playing
    sessions (which hold every session's background work to a trickle) until it paints
    again; then frames flow as fast as painted and it counts again."""
    from webapp.playback import WATCHDOG_S

    timers, gov = FakeTimers(), FrameGovernor()
    _, _, sent, page = _watched_session(timers, gov)
    timers.advance(1.0)
    assert len(sent) > 50 and gov.n_playing() == 1
    page["painting"] = False
    n_hidden = len(sent)
    timers.advance(5 * WATCHDOG_S + 0.1)
    assert 5 <= len(sent) - n_hidden <= 6  # (one was in flight)
    assert gov.n_playing() == 0
    page["painting"] = True
    n_back = len(sent)
    timers.advance(WATCHDOG_S + 0.5)
    assert gov.n_playing() == 1
    assert len(sent) > n_back + 10


def test_a_page_closed_while_playing_stops_its_frames_and_its_share_until_it_is_back() -> None:
    """A playing session whose page closes is suspended once its frame's watchdog fires: no
    more frames for nobody, and it does not count among the playing sessions, however long
    the page stays closed; play is still on. When the page is back, frames go on from the
    one on display and it counts again."""
    from webapp.playback import PAGE_POLL_S, WATCHDOG_S

    timers, gov = FakeTimers(), FrameGovernor()
    state, _, sent, page = _watched_session(timers, gov)
    timers.advance(1.0)
    assert len(sent) > 50 and gov.n_playing() == 1
    page["open"] = False
    timers.advance(WATCHDOG_S + 0.1)
    n_closed, shown = len(sent), state.frame
    assert gov.n_playing() == 0
    timers.advance(60.0)
    assert len(sent) == n_closed, "frames were sent to a closed page"
    assert gov.n_playing() == 0 and state.playing
    page["open"] = True
    timers.advance(PAGE_POLL_S + 0.5)
    assert gov.n_playing() == 1
    assert len(sent) > n_closed + 10
    assert sent[n_closed] == shown + 1, "play did not go on from the frame on display"
