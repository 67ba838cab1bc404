"""Sessions' simulations share the server in turn: at most COMPUTE_SLOTS run at once."""

from __future__ import annotations

import threading
import time

from webapp.runner import COMPUTE_SLOTS, ThreadRunner


def test_many_sessions_compute_at_most_compute_slots_at_once():
    """Twelve sessions submitting a run each never have more than COMPUTE_SLOTS running at
    once (the event loop that sends frames keeps its share), and every run still finishes
    and hands its result back."""
    running = 0
    most = 0
    lock = threading.Lock()
    results: list[int] = []
    finished = threading.Event()
    n = 12

    def work(i: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return i

    def done(result: int) -> None:
        with lock:
            results.append(result)
            if len(results) == n:
                finished.set()

    runners = [ThreadRunner(lambda fn: fn()) for _ in range(n)]
    for i, runner in enumerate(runners):
        runner.submit(lambda i=i: work(i), done)
    assert finished.wait(120), f"only {len(results)} of {n} runs finished"
    for runner in runners:
        runner.shutdown()
    assert sorted(results) == list(range(n))
    assert 1 <= most <= COMPUTE_SLOTS
