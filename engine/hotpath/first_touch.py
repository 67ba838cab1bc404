"""Compiled references of a vCPU with unlimited memory: only a first touch costs more than CPU.

With a frame for every page nothing is evicted, read or written, so a reference is either the
page's first touch (a minor fault: zero-fill CPU time) or a hit. This is the unlimited-memory
run's whole per-reference model, the same arithmetic as step_one's on those two cases."""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.pool import DIRTY, UNTOUCHED


@njit(cache=True, nogil=True)
def run_first_touches(
    rel: np.ndarray,
    vm_lo: int,
    state: np.ndarray,
    cpu_ns: int,
    t: int,
    t_end: int,
    burst_left_ns: int,
    minor_ns: int,
) -> tuple[int, int, int]:
    """Run references rel[0:] (pages relative to vm_lo) from t while t < t_end and the burst
    lasts: a first touch marks its page DIRTY and costs minor_ns more. Returns (references
    done, time, first touches)."""
    n = 0
    firsts = 0
    while n < rel.size and t < t_end and burst_left_ns - n * cpu_ns > 0:
        g = vm_lo + rel[n]
        if state[g] == UNTOUCHED:
            state[g] = DIRTY
            firsts += 1
            t += minor_ns
        t += cpu_ns
        n += 1
    return n, t, firsts
