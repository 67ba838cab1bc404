"""The oracle's compiled next-use times: the same times as the plain numpy formula."""

from __future__ import annotations

import numpy as np
import pytest

from engine.hotpath.next_use import lower_to_next_use, use_times

FAR = 1 << 61


def _numpy_use_times(ahead, starts, cum, cpu, share, unplanned_ns):
    """The formula as numpy arrays: planned segments at cpu per reference, then cpu × share."""
    far = ahead >= FAR // 2
    k = np.where(far, 0, ahead)
    if cum.size == 0:
        t = unplanned_ns + (k * cpu * share).astype(np.int64)
    else:
        j = np.searchsorted(cum, k, side="right")
        jj = np.minimum(j, cum.size - 1)
        before = np.where(jj > 0, cum[np.maximum(jj - 1, 0)], 0)
        t_in = starts[jj] + (k - before) * cpu
        last_end = int(starts[-1]) + (int(cum[-1]) - int(cum[-2] if cum.size > 1 else 0)) * cpu
        t_out = last_end + ((k - cum[-1]) * cpu * share).astype(np.int64)
        t = np.where(j < cum.size, t_in, t_out)
    return np.where(far, FAR, t)


def _plan(rng, n_segments):
    starts = np.sort(rng.integers(0, 10**9, size=n_segments)).astype(np.int64)
    cum = np.cumsum(rng.integers(0, 50_000, size=n_segments), dtype=np.int64)
    return starts, cum


@pytest.mark.parametrize("n_segments", [0, 1, 2, 7])
def test_use_times_match_the_numpy_formula(n_segments):
    """Inside, past and without a plan, and for FAR, the kernel gives the formula's times."""
    rng = np.random.default_rng(n_segments)
    starts, cum = _plan(rng, n_segments)
    ahead = rng.integers(0, 400_000, size=5_000).astype(np.int64)
    ahead[::17] = FAR
    ahead[:3] = [0, int(cum[-1]) if cum.size else 1, FAR // 2]
    got = use_times(ahead, starts, cum, 1_234, 2.5, 7_000_000, FAR)
    np.testing.assert_array_equal(got, _numpy_use_times(ahead, starts, cum, 1_234, 2.5, 7_000_000))


@pytest.mark.parametrize("window_end", [-1, 30_000])
def test_lower_to_next_use_keeps_the_sooner_time(window_end):
    """Each page's time becomes the sooner of its old one and this vCPU's next use, with a
    next use past a full window's end counted at that end."""
    rng = np.random.default_rng(5)
    starts, cum = _plan(rng, 3)
    next_pos = rng.integers(10_000, 60_000, size=4_096).astype(np.int64)
    next_pos[::5] = FAR
    rel = np.sort(rng.choice(4_096, size=1_000, replace=False)).astype(np.int64)
    out = rng.integers(0, 2 * 10**9, size=rel.size).astype(np.int64)
    before = out.copy()
    lower_to_next_use(out, next_pos, rel, window_end, 10_000, starts, cum, 999, 1.5, 5, FAR)
    nxt = next_pos[rel] if window_end < 0 else np.minimum(next_pos[rel], window_end)
    ahead = np.where(nxt >= FAR, FAR, nxt - 10_000)
    want = np.minimum(before, _numpy_use_times(ahead, starts, cum, 999, 1.5, 5))
    np.testing.assert_array_equal(out, want)
