"""Victim selection over the whole pool: LRU, FIFO, CLOCK and random (ESX-style).

Each returns up to n evictable pages, deterministically: ties go to the lower page index.
"""

from __future__ import annotations

import numpy as np

from engine.hotpath.clock import clock_victims
from engine.hotpath.oldest import TOO_WIDE, oldest_pages
from engine.hotpath.radix import RADIX_FROM, radix_sort
from engine.hotpath.reclaim import take_kept
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
    bits = max(1, int(pages.max()).bit_length())
    lo = int(keys.min())
    span = int(keys.max()) - lo
    if span.bit_length() + bits <= 62 and int(pages.min()) >= 0:
        # (key - smallest key) << page bits | page: one int64 per page (a key span of a
        # minute or so of simulated time with a million pages), so sorting them is exact:
        # by radix when many are wanted (remaking a kept list), else partition and sort.
        packed = (((keys - lo) << bits) | pages).astype(np.int64, copy=False)
        if packed.size >= RADIX_FROM and n >= packed.size // 8:
            return radix_sort(packed, span.bit_length() + bits)[:n] & ((1 << bits) - 1)
        if n < packed.size:
            packed = np.partition(packed, n - 1)[:n]
        return np.sort(packed) & ((1 << bits) - 1)
    if n < pages.size:
        kth = np.partition(keys, n - 1)[n - 1]
        below = keys < kth
        tie = np.flatnonzero(keys == kth)[: n - int(np.count_nonzero(below))]
        sel = np.flatnonzero(below)
        sel = np.concatenate([sel, tie])
        pages, keys = pages[sel], keys[sel]
    if pages.size > 1 and bool((pages[1:] < pages[:-1]).any()):
        by_page = np.argsort(pages, kind="stable")
        pages, keys = pages[by_page], keys[by_page]
    # Pages ascending, so a stable sort on the key alone gives (key, page) order.
    return pages[np.argsort(keys, kind="stable")][:n]


class Oldest:
    """Victims in (key, page) order — LRU on last use, FIFO on load time — taken from a kept
    list of the oldest pages of the last full selection (as the kernel keeps an inactive
    list), so the many reclaims of a run cost O(n) instead of a pass over the pool each.

    Exact, not approximate: a kept page is taken only while its key is unchanged, it is
    still evictable, and its key is older than the step in which the list was made. Every
    key given after that is at least that step's start (references and reads that end in
    it or later), so no page outside the list can be older than one taken from it; a page
    that becomes evictable again with its old key voids the list (a failed write; for load
    times also a page rescued from its write). When too few kept pages qualify, the list is
    made again."""

    def __init__(self, key: str, keep: int = 16384):
        self.key = key
        # Pages a full selection keeps. The answers do not depend on it; a longer list is
        # remade less often, each time sorting more (16K was the faster of 4K to 64K on the
        # throughput benchmark's 16K frames and on nvme_8vm_2x's 23K).
        self.keep = keep
        self.pages = np.zeros(0, dtype=np.int64)
        self.keys = np.zeros(0, dtype=np.int64)
        self.before_ns = 0  # only kept pages with keys older than this may be taken
        self.requeued = -1  # pages back with old keys (see _requeued) when the list was made

    def __call__(
        self, pool: PagePool, n: int, step_start_ns: int, clean_only: bool = False
    ) -> np.ndarray:
        keys_now = getattr(pool, self.key)
        if clean_only:
            pages = candidates(pool, True)
            return smallest(keys_now[pages], pages, n)
        if n <= 0:
            return self.pages[:0]
        if self._requeued(pool) == self.requeued:
            out = self._take(pool, keys_now, n)
            if out is not None:
                return out
        self.pages, self.keys = self._select(pool, keys_now, max(n, self.keep))
        self.before_ns = step_start_ns
        self.requeued = self._requeued(pool)
        if int(np.searchsorted(self.keys, step_start_ns, side="left")) < n:
            # Keys from this very step among the n oldest: this selection is exact now
            # but the list may not stay so; hand it out and keep nothing.
            out = self.pages[:n]
            self.pages, self.keys = self.pages[:0], self.keys[:0]
            return out
        out = self.pages[:n]
        self.pages, self.keys = self.pages[n:], self.keys[n:]
        return out

    def _select(
        self, pool: PagePool, keys_now: np.ndarray, want: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The want oldest evictable pages and their keys: compiled (engine.hotpath.oldest,
        which direct reclaim in the kernel uses too), or here when the keys do not pack."""
        pages = np.empty(want, dtype=np.int64)
        keys = np.empty(want, dtype=np.int64)
        count = oldest_pages(pool.state, keys_now, want, pages, keys)
        if count == TOO_WIDE:
            found = candidates(pool)
            chosen = smallest(keys_now[found], found, want)
            return chosen, keys_now[chosen]
        return pages[:count], keys[:count]

    def _take(self, pool: PagePool, keys_now: np.ndarray, n: int) -> np.ndarray | None:
        """The first n kept pages still evictable with unchanged keys, all older than
        before_ns, checking only as far into the list as it takes (a reclaim wants a few
        dozen pages of thousands); None when the list cannot supply them. Compiled
        (engine.hotpath.reclaim.take_kept), as the per-reference kernel takes them too."""
        out = np.empty(n, dtype=np.int64)
        head = take_kept(self.pages, self.keys, 0, n, self.before_ns, pool.state, keys_now, out)
        if head < 0:
            return None
        self.pages, self.keys = self.pages[head:], self.keys[head:]
        return out

    def _requeued(self, pool: PagePool) -> int:
        """Events that made pages evictable again with their old key of this list's kind."""
        if self.key == "last_use_ns":  # a rescue is a use: the page gets a new key
            return pool.write_failures
        return pool.write_failures + pool.rescues


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
    takes pages whose bit is clear (compiled: engine.hotpath.clock)."""

    def __init__(self) -> None:
        self.hand = 0

    def __call__(self, pool: PagePool, n: int, clean_only: bool = False) -> np.ndarray:
        out = np.empty(max(n, 0), dtype=np.int64)
        count, self.hand = clock_victims(pool.state, pool.ref_bit, self.hand, n, clean_only, out)
        return out[:count]
