"""The page pool and victim selection: eviction semantics and the four victim orders."""

from __future__ import annotations

import numpy as np

from engine.device import BACKGROUND_WRITE
from engine.policies import victims
from engine.pool import (
    CLEAN,
    DIRTY,
    HOLDS_FRAME,
    HOLDS_SLOT,
    PREFETCHED,
    SWAPPED,
    WRITING,
    PagePool,
)


def _pool(states: list[int], slots: int = 100) -> PagePool:
    pool = PagePool([len(states)], frames=len(states), swap_pages=slots)
    pool.state[:] = states
    pool.free_frames = pool.frames - int(HOLDS_FRAME[pool.state].sum())
    pool.free_slots = slots - int(HOLDS_SLOT[pool.state].sum())
    pool.check()
    return pool


def test_clean_pages_drop_dirty_pages_are_written():
    """Evicting a clean page frees its frame at once; a dirty one is written first."""
    pool = _pool([CLEAN, DIRTY, PREFETCHED])
    wasted = np.zeros(1, dtype=np.int64)
    freed, ops = pool.evict(np.arange(3), 0, BACKGROUND_WRITE, 32, wasted)
    assert freed == 2 and len(ops) == 1 and ops[0].pages.tolist() == [1]
    assert pool.state.tolist() == [SWAPPED, WRITING, SWAPPED]
    assert wasted[0] == 1
    pool.check()
    pool.finish_write(ops[0])
    assert pool.state[1] == SWAPPED and pool.free_frames == 3
    pool.check()


def test_full_swap_keeps_dirty_pages_resident():
    """With no free swap slot a dirty page is not evicted: throttled, never lost."""
    pool = _pool([DIRTY, DIRTY], slots=1)
    freed, ops = pool.evict(np.arange(2), 0, BACKGROUND_WRITE, 32, np.zeros(1, dtype=np.int64))
    assert freed == 0 and sum(op.pages.size for op in ops) == 1
    assert sorted(pool.state.tolist()) == [DIRTY, WRITING]
    pool.check()


def test_failed_write_keeps_page_dirty():
    """A write that fails leaves the page resident and dirty, its slot released."""
    pool = _pool([DIRTY])
    _, ops = pool.evict(np.arange(1), 0, BACKGROUND_WRITE, 32, np.zeros(1, dtype=np.int64))
    ops[0].failed = True
    pool.finish_write(ops[0])
    assert pool.state[0] == DIRTY
    pool.check()


def test_write_batches_split_by_vm_and_size():
    """Writes group pages of one VM, at most write_batch pages an op."""
    pool = PagePool([3, 3], frames=6, swap_pages=10)
    pool.state[:] = DIRTY
    pool.free_frames = 0
    _, ops = pool.evict(np.arange(6), 0, BACKGROUND_WRITE, 2, np.zeros(2, dtype=np.int64))
    assert [(op.vm, op.pages.tolist()) for op in ops] == [
        (0, [0, 1]),
        (0, [2]),
        (1, [3, 4]),
        (1, [5]),
    ]


def test_lru_takes_least_recent_with_page_ties():
    """LRU takes the smallest last-use times; equal times go to the lower page."""
    pool = _pool([CLEAN] * 6)
    pool.last_use_ns[:] = [5, 1, 3, 1, 9, 0]
    assert victims.lru(pool, 3).tolist() == [5, 1, 3]


def test_fifo_takes_earliest_loaded():
    """FIFO takes pages by load time, ignoring use."""
    pool = _pool([CLEAN] * 4)
    pool.load_ns[:] = [4, 3, 2, 1]
    pool.last_use_ns[:] = [0, 0, 0, 9]
    assert victims.fifo(pool, 2).tolist() == [3, 2]


def test_clock_gives_referenced_pages_a_second_chance():
    """CLOCK skips (and clears) set bits and takes clear ones; a full sweep takes in order."""
    pool = _pool([CLEAN] * 5)
    pool.ref_bit[:] = [True, False, True, False, True]
    clock = victims.Clock()
    assert clock(pool, 2).tolist() == [1, 3]
    assert pool.ref_bit.tolist() == [False, False, False, False, True]
    assert clock.hand == 4
    pool.state[[1, 3]] = SWAPPED
    # From the hand: page 4 (bit set: cleared, skipped), then 0 and 2 (clear: taken).
    assert clock(pool, 2).tolist() == [0, 2]
    assert not pool.ref_bit[4]


def test_random_is_seeded_and_within_candidates():
    """Random victims come from the evictable pages and repeat for the same seed."""
    pool = _pool([CLEAN, SWAPPED, DIRTY, CLEAN, WRITING, PREFETCHED])
    a = victims.random(pool, 2, np.random.default_rng(1))
    b = victims.random(pool, 2, np.random.default_rng(1))
    assert a.tolist() == b.tolist()
    assert set(a.tolist()) <= {0, 2, 3, 5}


def test_clean_only_when_swap_is_full():
    """clean_only restricts victims to pages that need no write."""
    pool = _pool([DIRTY, CLEAN, DIRTY, PREFETCHED])
    assert victims.lru(pool, 4, clean_only=True).tolist() == [1, 3]
