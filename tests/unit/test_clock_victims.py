"""CLOCK victims (victims.Clock, compiled in engine.hotpath.clock) choose exactly what the
vectorised sweep over the pool chooses, hand and reference bits included."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from engine.policies import victims
from engine.pool import N_STATES, PagePool


class SweepModel:
    """The vectorised CLOCK: the candidates in page order rotated to the hand form a ring;
    the hand clears set bits up to the n-th clear one and takes the clear ones; a whole
    sweep with too few clears every bit and takes the rest in ring order."""

    def __init__(self) -> None:
        self.hand = 0

    def __call__(self, pool: PagePool, n: int, clean_only: bool = False) -> np.ndarray:
        pages = victims.candidates(pool, clean_only)
        if n <= 0 or pages.size == 0:
            return pages[:0]
        start = int(np.searchsorted(pages, self.hand))
        ring = np.concatenate([pages[start:], pages[:start]])
        bits = pool.ref_bit[ring]
        zeros = np.flatnonzero(~bits)
        if zeros.size >= n:
            last = int(zeros[n - 1])
            pool.ref_bit[ring[: last + 1]] = False
            self.hand = int(ring[last]) + 1
            return np.sort(ring[zeros[:n]])
        pool.ref_bit[ring] = False
        rest = np.flatnonzero(bits)[: n - zeros.size]
        chosen = np.concatenate([ring[zeros], ring[rest]])
        self.hand = int(ring[rest[-1]]) + 1 if rest.size else int(ring[-1]) + 1
        return np.sort(chosen)


def _pool(rng: np.random.Generator, n_pages: int) -> PagePool:
    pool = PagePool([n_pages], frames=n_pages, swap_pages=n_pages)
    pool.state[:] = rng.integers(0, N_STATES, n_pages)
    pool.ref_bit[:] = rng.random(n_pages) < rng.random()
    return pool


@pytest.mark.parametrize("seed", range(6))
def test_compiled_clock_equals_the_sweep(seed: int) -> None:
    """Over a run of calls with changing bits and states, the victims, the hand and the
    reference bits left behind are those of the sweep model, clean_only or not."""
    rng = np.random.default_rng(seed)
    n_pages = int(rng.integers(1, 300))
    mine = _pool(rng, n_pages)
    model = copy.deepcopy(mine)
    clock, sweep = victims.Clock(), SweepModel()
    wrapped = 0
    for _ in range(60):
        n = int(rng.integers(0, n_pages + 5))
        clean_only = bool(rng.random() < 0.3)
        got = clock(mine, n, clean_only)
        want = sweep(model, n, clean_only)
        np.testing.assert_array_equal(got, want)
        assert clock.hand == sweep.hand
        np.testing.assert_array_equal(mine.ref_bit, model.ref_bit)
        wrapped += int(want.size < n)
        touched = rng.random(n_pages) < 0.2
        states = rng.integers(0, N_STATES, n_pages)
        moved = rng.random(n_pages) < 0.1
        for pool in (mine, model):
            pool.ref_bit[touched] = True
            pool.state[moved] = states[moved]
    assert wrapped > 0 or n_pages < 5, "no call came round with too few victims"
