"""Victim selection over the whole pool: LRU, FIFO, CLOCK and random (ESX-style).

Each returns up to n evictable pages, deterministically: ties go to the lower page index.
"""

from __future__ import annotations

import numpy as np

from engine.pool import CLEAN, PREFETCHED, PagePool


def candidates(pool: PagePool, clean_only: bool = False, lo: int = 0, hi: int = -1) -> np.ndarray:
    """Evictable pages in [lo, hi), ascending (clean and prefetched only if clean_only)."""
    st = pool.state[lo:] if hi < 0 else pool.state[lo:hi]
    mask = (st == CLEAN) | (st == PREFETCHED) if clean_only else (st >= CLEAN) & (st <= PREFETCHED)
    return np.flatnonzero(mask) + lo


def smallest(keys: np.ndarray, pages: np.ndarray, n: int) -> np.ndarray:
    """The n pages with the smallest keys, ties to the lower page; in (key, page) order."""
    if n <= 0 or pages.size == 0:
        return pages[:0]
    if n < pages.size:
        kth = np.partition(keys, n - 1)[n - 1]
        below = keys < kth
        tie = np.flatnonzero(keys == kth)[: n - int(np.count_nonzero(below))]
        sel = np.flatnonzero(below)
        sel = np.concatenate([sel, tie])
        pages, keys = pages[sel], keys[sel]
    order = np.lexsort((pages, keys))
    return pages[order][:n]


class Oldest:
    """Victims in (key, page) order — LRU on last use, FIFO on load time — keeping the next
    oldest pages of the last full selection (as the kernel keeps an inactive list), so the
    many small direct reclaims of a step cost O(n) instead of a pass over the pool.

    A kept page is taken only while its key is unchanged and it is still evictable. Pages
    stamped after the list was made are newer, except stamps a pCPU processed later in the
    same step gives out of order; so the list lives one step at most (`max_age_ns`)."""

    def __init__(self, key: str, max_age_ns: int, keep: int = 4096):
        self.key = key
        self.keep = keep
        self.max_age_ns = max_age_ns
        self.made_ns = -(1 << 62)
        self.pages = np.zeros(0, dtype=np.int64)
        self.keys = np.zeros(0, dtype=np.int64)

    def __call__(self, pool: PagePool, n: int, now_ns: int, clean_only: bool = False) -> np.ndarray:
        keys_now = getattr(pool, self.key)
        if clean_only:
            pages = candidates(pool, True)
            return smallest(keys_now[pages], pages, n)
        st = pool.state[self.pages]
        valid = (st >= CLEAN) & (st <= PREFETCHED) & (keys_now[self.pages] == self.keys)
        self.pages, self.keys = self.pages[valid], self.keys[valid]
        if self.pages.size < n or now_ns - self.made_ns >= self.max_age_ns:
            pages = candidates(pool)
            chosen = smallest(keys_now[pages], pages, max(n, self.keep))
            self.pages, self.keys = chosen, keys_now[chosen]
            self.made_ns = now_ns
        out = self.pages[:n]
        self.pages, self.keys = self.pages[n:], self.keys[n:]
        return out


def lru(pool: PagePool, n: int, clean_only: bool = False) -> np.ndarray:
    pages = candidates(pool, clean_only)
    return smallest(pool.last_use_ns[pages], pages, n)


def fifo(pool: PagePool, n: int, clean_only: bool = False) -> np.ndarray:
    pages = candidates(pool, clean_only)
    return smallest(pool.load_ns[pages], pages, n)


def random(
    pool: PagePool, n: int, rng: np.random.Generator, clean_only: bool = False
) -> np.ndarray:
    pages = candidates(pool, clean_only)
    if n >= pages.size:
        return pages
    return np.sort(rng.choice(pages, size=n, replace=False))


class Clock:
    """Second chance over the pool in page order: the hand clears set reference bits and
    takes pages whose bit is clear."""

    def __init__(self) -> None:
        self.hand = 0

    def __call__(self, pool: PagePool, n: int, clean_only: bool = False) -> np.ndarray:
        pages = candidates(pool, clean_only)
        if n <= 0 or pages.size == 0:
            return pages[:0]
        start = int(np.searchsorted(pages, self.hand))
        ring = np.concatenate([pages[start:], pages[:start]])
        bits = pool.ref_bit[ring]
        zeros = np.flatnonzero(~bits)
        if zeros.size >= n:
            last = int(zeros[n - 1])
            pool.ref_bit[ring[: last + 1]] = False
            victims = ring[zeros[:n]]
            self.hand = int(ring[last]) + 1
            return np.sort(victims)
        # A whole sweep clears every bit; the second pass takes pages in ring order.
        pool.ref_bit[ring] = False
        rest = np.flatnonzero(bits)[: n - zeros.size]
        victims = np.concatenate([ring[zeros], ring[rest]])
        self.hand = int(ring[rest[-1]]) + 1 if rest.size else int(ring[-1]) + 1
        return np.sort(victims)
