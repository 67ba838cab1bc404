"""Garbage-collection pacing: while sessions play, Python's automatic full collections (which
hold the event loop for every session's frames) are put off, one is let through every
FULL_EVERY_S, and the usual threshold is back once nobody plays."""

from __future__ import annotations

import gc

from webapp.collector import CollectionPacer
from webapp.governor import FrameGovernor


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class Thresholds:
    """gc.get_threshold / gc.set_threshold on a tuple of our own."""

    def __init__(self) -> None:
        self.value: tuple[int, ...] = (700, 10, 10)

    def get(self) -> tuple[int, ...]:
        return self.value

    def set(self, *value: int) -> None:
        self.value = value


def pacer(clock: Clock, thresholds: Thresholds) -> CollectionPacer:
    return CollectionPacer(10.0, clock, thresholds.get, thresholds.set)


def test_full_collections_wait_while_anyone_plays_and_come_back_after() -> None:
    """While a session plays the oldest generation's threshold is out of reach (the younger
    ones untouched); once nobody plays it is the usual one again."""
    clock, thresholds = Clock(), Thresholds()
    p = pacer(clock, thresholds)
    p.update(False)
    assert thresholds.value == (700, 10, 10)
    p.update(True)
    assert thresholds.value[:2] == (700, 10) and thresholds.value[2] > 1_000_000
    clock.t = 5.0
    p.update(True)
    assert p.deferring
    p.update(False)
    assert thresholds.value == (700, 10, 10) and not p.deferring


def test_one_full_collection_is_let_through_every_period_of_play() -> None:
    """After full_every_s of play without a full collection the usual threshold is back (one
    may run); once it ran, the wait starts again from then."""
    clock, thresholds = Clock(), Thresholds()
    p = pacer(clock, thresholds)
    p.update(True)
    clock.t = 9.9
    p.update(True)
    assert p.deferring
    clock.t = 10.0
    p.update(True)
    assert thresholds.value == (700, 10, 10)  # Python may run one now
    clock.t = 12.0
    p.collected()
    assert p.deferring
    clock.t = 21.9
    p.update(True)
    assert p.deferring
    clock.t = 22.0
    p.update(True)
    assert not p.deferring


def test_the_pacer_moves_the_interpreters_own_threshold_and_gives_it_back() -> None:
    """On the real collector: the threshold is raised while playing and restored exactly."""
    usual = gc.get_threshold()
    p = CollectionPacer()
    try:
        p.update(True)
        assert gc.get_threshold()[:2] == usual[:2] and gc.get_threshold()[2] > usual[2]
    finally:
        p.update(False)
    assert gc.get_threshold() == usual


def test_the_governor_says_whether_anyone_plays() -> None:
    """The frame governor tells its listener at each start, stop and frame whether any
    session plays."""
    heard: list[bool] = []
    governor = FrameGovernor(on_playing=heard.append)
    a, b = object(), object()
    governor.playing(a)
    governor.playing(b)
    governor.reserve(a, 0.0)
    governor.stopped(a)
    governor.stopped(b)
    assert heard == [True, True, True, True, False]
