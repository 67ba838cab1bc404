"""Compiled next-use times for the clairvoyant policy: from "k references from now" to the
time a vCPU reaches them on its planned CPU time.

One loop per page in place of a dozen numpy temporaries per vCPU; the arithmetic (integer
products, then one float product truncated) is the numpy version's, so the times and hence
the oracle's victims are identical."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _one_use_time(
    k: int, starts: np.ndarray, cum: np.ndarray, cpu: int, share: float, unplanned_ns: int
) -> int:
    """When the vCPU reaches k references from now: inside a planned segment at its CPU cost
    per reference, past the plan at that cost times the pCPU share."""
    n = cum.size
    if n == 0:
        return unplanned_ns + int(k * cpu * share)
    j = np.searchsorted(cum, k, side="right")
    if j < n:
        before = cum[j - 1] if j > 0 else 0
        return int(starts[j] + (k - before) * cpu)
    last_len = cum[n - 1] - (cum[n - 2] if n > 1 else 0)
    last_end = starts[n - 1] + last_len * cpu
    return int(last_end + int((k - cum[n - 1]) * cpu * share))


@njit(cache=True)
def use_times(
    ahead_refs: np.ndarray,
    starts: np.ndarray,
    cum: np.ndarray,
    cpu: int,
    share: float,
    unplanned_ns: int,
    far: int,
) -> np.ndarray:
    """_one_use_time of each entry of ahead_refs; an entry at or past far // 2 gives far."""
    out = np.empty(ahead_refs.size, dtype=np.int64)
    for i in range(ahead_refs.size):
        k = ahead_refs[i]
        out[i] = far if k >= far // 2 else _one_use_time(k, starts, cum, cpu, share, unplanned_ns)
    return out


@njit(cache=True)
def lower_to_next_use(
    out: np.ndarray,
    next_pos: np.ndarray,
    rel: np.ndarray,
    window_end: int,
    pos: int,
    starts: np.ndarray,
    cum: np.ndarray,
    cpu: int,
    share: float,
    unplanned_ns: int,
    far: int,
) -> None:
    """out[i] = min(out[i], the time this vCPU next uses page rel[i]): its next use's stream
    position (no later than window_end when window_end >= 0) turned into a time."""
    for i in range(rel.size):
        nxt = next_pos[rel[i]]
        if window_end >= 0 and nxt > window_end:
            nxt = window_end
        if nxt >= far:
            t = far
        else:
            k = nxt - pos
            t = far if k >= far // 2 else _one_use_time(k, starts, cum, cpu, share, unplanned_ns)
        if t < out[i]:
            out[i] = t
