"""Finished runs the whole server shares, and one computation per run however many ask.

A run is a pure function of its key (the canonical JSON of scenario and policy: the engine is
deterministic), so sessions may share it: nothing a session changes is stored here and an
entry is never mutated. Three places hold them:

- `webapp.runs.RUN_CACHE`, bounded by bytes: whatever any session computed lately;
- `PINNED`: the shipped scenarios' runs the server computed for itself at start
  (`webapp.warmup`), kept for the server's life: a fixed cost, not one that grows with
  sessions, and what the first visitor and a switch of scenario are served from;
- flights: runs being computed now. A second session (or the warm-up) asking for the same key
  waits for the first instead of computing it again: twenty sessions opening one link cost
  one simulation, and a visitor arriving during the warm-up waits for it, not beside it.
  Except for a flight of background work (another seed, the warm-up of another scenario):
  that pauses for visitors and trickles while sessions play (webapp.priority), so a visitor
  waiting for it would wait for the pause; the visitor's run computes the same key itself.
  When the visitor's run lands it settles that flight: the background computation stops at
  its next step (`landed_beside`, LandedBeside) and takes the visitor's run rather than
  computing the rest of the same run again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future

from engine.simulator import RunResult
from webapp.runs import RUN_CACHE

PINNED: dict[str, RunResult] = {}
_pinned_lock = threading.Lock()
_flights: dict[str, Future[RunResult]] = {}
_background_flights: set[str] = set()  # keys whose flight background work computes
_flights_lock = threading.Lock()
WAIT_POLL_S = 0.1  # how often a waiting session checks whether it was cancelled


def find(key: str) -> RunResult | None:
    """The finished run under key, from the pinned runs or the cache; None when absent."""
    with _pinned_lock:
        pinned = PINNED.get(key)
    return pinned if pinned is not None else RUN_CACHE.get(key)


def pin(key: str, result: RunResult) -> None:
    """Keep a run for the server's life (the warm-up's shipped scenarios only)."""
    with _pinned_lock:
        PINNED[key] = result


def computing(key: str) -> bool:
    """Whether a run under key is being computed now."""
    with _flights_lock:
        return key in _flights


class LandedBeside(Exception):
    """Background work stops computing a run: a visitor's run of the same key landed meanwhile
    (compute_once then hands back that run)."""


def landed_beside(key: str) -> bool:
    """Whether the background flight of key was settled by a visitor's run computed beside it:
    the background computation should stop (raise LandedBeside) rather than finish it."""
    with _flights_lock:
        flight = _flights.get(key)
        return key in _background_flights and flight is not None and flight.done()


def settle(key: str, result: RunResult) -> None:
    """Hand `result`, a run that serves as well as key's (the recorded run of the same inputs,
    for a flight of figures only), to the flight of key, if one is under way: its background
    computation then stops (LandedBeside) and every asker of key gets `result`."""
    with _flights_lock:
        flight = _flights.get(key)
        if flight is not None and not flight.done():
            flight.set_result(result)


def compute_once(
    key: str,
    compute: Callable[[], RunResult],
    cancelled: Callable[[], bool] = lambda: False,
    background: bool = False,
) -> RunResult:
    """The run under key: found, or awaited from whoever computes it now, or computed here
    (and then cached). When the computation awaited fails or is cancelled, this caller
    computes it itself; `cancelled()` is checked while waiting and must raise to give up
    (the caller's own cancellation), or return False to keep waiting. `background`: this
    caller is background work; a caller that is not never waits for such a flight (it may
    be paused) and computes the run itself (runs are pure: the same result), which then
    settles the flight: its owner's `compute` may raise LandedBeside and gets that run."""
    while True:
        hit = find(key)
        if hit is not None:
            return hit
        with _flights_lock:
            flight = _flights.get(key)
            owner = flight is None
            if owner:
                flight = _flights[key] = Future()
                if background:
                    _background_flights.add(key)
            # A flight settled already (by a run beside it) is awaited: its result is there.
            beside = (
                not owner and not background and key in _background_flights and not flight.done()
            )
        assert flight is not None
        if beside:
            return _settle(key, flight, compute())
        if owner:
            try:
                return _settle(key, flight, compute())
            except LandedBeside:
                return flight.result()
            except BaseException as exc:
                with _flights_lock:
                    if not flight.done():
                        flight.set_exception(exc)
                raise
            finally:
                with _flights_lock:
                    _flights.pop(key, None)
                    _background_flights.discard(key)
        while True:
            cancelled()
            try:
                return flight.result(timeout=WAIT_POLL_S)
            except TimeoutError:
                continue
            except BaseException:
                break  # theirs failed or was cancelled: compute it here (next time round)


def _settle(key: str, flight: Future[RunResult], result: RunResult) -> RunResult:
    """Hand `result` to the flight's waiters and the cache, unless the flight already has a
    result (a run beside it, or its owner, finished first): then that one, the same run, is
    kept and returned, so the cache and every asker hold one copy."""
    with _flights_lock:
        ours = not flight.done() or flight.exception() is not None
        if not flight.done():
            flight.set_result(result)
    if not ours:
        return flight.result()
    RUN_CACHE.put(key, result)
    return result
