"""Scratch arrays for drawing references, reused from one block to the next, one set per
thread."""

from __future__ import annotations

import threading

import numpy as np


class Scratch:
    """Arrays reused from one block to the next for values that do not outlive the step of
    a draw that makes them (the uniform draws, the ranks before a permutation): a fresh
    half-megabyte array per step of every block cost more than the arithmetic done on it.
    One per thread (`thread_scratch()`), so the streams kept for many sessions hold none; a draw
    runs on one thread, and each array is used up before anything else is drawn."""

    def __init__(self) -> None:
        self.floats_buf = np.empty(0, dtype=np.float64)
        self.ints_buf = np.empty(0, dtype=np.int64)

    def uniform(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """rng.random(n), the same draws, in the reused array (valid until the next call)."""
        if self.floats_buf.size < n:
            self.floats_buf = np.empty(n, dtype=np.float64)
        return rng.random(out=self.floats_buf[:n])

    def ints(self, n: int) -> np.ndarray:
        """A reused int64 array of n values (valid until the next call)."""
        if self.ints_buf.size < n:
            self.ints_buf = np.empty(n, dtype=np.int64)
        return self.ints_buf[:n]


_THREAD = threading.local()


def thread_scratch() -> Scratch:
    """This thread's scratch arrays."""
    found: Scratch | None = getattr(_THREAD, "scratch", None)
    if found is None:
        found = _THREAD.scratch = Scratch()
    return found
