"""The cache sessions share: LRU order, a bound in bytes, and safety under many threads."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

import numpy as np
import pytest

from engine.bounded_cache import BoundedCache, deep_nbytes


def test_least_recently_used_goes_first():
    """Over the bound, the entry read or written longest ago is evicted first."""
    cache: BoundedCache[np.ndarray] = BoundedCache(3000, size_of=lambda v: 1000)
    cache.put(1, np.zeros(1))
    cache.put(2, np.zeros(1))
    cache.put(3, np.zeros(1))  # 3 × (1000 + the key's 32 bytes) > 3000: 1 goes
    assert 1 not in cache and cache.get(2) is not None
    cache.put(4, np.zeros(1))  # 3 was used longer ago than 2
    assert cache.get(3) is None and cache.get(2) is not None and cache.get(4) is not None


def test_the_bound_is_in_bytes_not_entries():
    """Many small entries fit where one big one does not; an entry over the bound is refused."""
    cache: BoundedCache[np.ndarray] = BoundedCache(100_000)
    for i in range(100):
        assert cache.put(i, np.zeros(10, dtype=np.int64))
    assert len(cache) == 100
    assert not cache.put("big", np.zeros(20_000, dtype=np.int64))  # 160 kB
    assert "big" not in cache and len(cache) == 100
    assert cache.put("most", np.zeros(12_000, dtype=np.int64))  # 96 kB: older ones make room
    assert "most" in cache and len(cache) < 100 and cache.nbytes <= 100_000


def test_replacing_a_key_counts_its_bytes_once():
    """Storing under a key already there replaces the entry and its measure."""
    cache: BoundedCache[np.ndarray] = BoundedCache(1_000_000)
    for _ in range(10):
        cache.put("k", np.zeros(1000, dtype=np.uint8))
    assert len(cache) == 1 and 1000 <= cache.nbytes < 2000
    assert cache.pop("k") is not None and cache.nbytes == 0 and cache.pop("k") is None


@dataclass
class _Recording:
    frames: dict[int, np.ndarray]
    names: list[str]


def test_deep_nbytes_counts_arrays_inside_containers_once():
    """A dataclass holding a dict of arrays weighs at least their buffers; a shared array and
    a view of it are counted once."""
    a = np.zeros(10_000, dtype=np.float64)
    rec = _Recording({0: a, 1: a, 2: a[:10]}, ["x", "y"])
    assert 80_000 <= deep_nbytes(rec) < 82_000
    assert deep_nbytes([np.zeros(1000, dtype=np.int32), np.zeros(1000, dtype=np.int32)]) >= 8000


def test_a_negative_bound_is_refused():
    """max_bytes below zero is a programming error, said plainly."""
    with pytest.raises(ValueError, match="max_bytes"):
        BoundedCache(-1)


def test_many_threads_get_put_pop_and_clear_at_once():
    """16 threads hammer one small cache with get, put, get_or_compute, pop and clear on
    overlapping keys: no exception, every value read is the one stored under its key, and the
    bytes held never exceed the bound."""
    bound = 20_000
    cache: BoundedCache[np.ndarray] = BoundedCache(bound)
    errors: list[BaseException] = []
    over: list[int] = []
    start = threading.Barrier(16)

    def value(key: int) -> np.ndarray:
        return np.full(50 + 40 * (key % 7), key, dtype=np.int64)

    def hammer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            start.wait()
            for _ in range(3000):
                key = rng.randrange(40)
                op = rng.random()
                if op < 0.4:
                    hit = cache.get(key)
                    if hit is not None and not (hit.size and int(hit[0]) == key):
                        raise AssertionError(f"key {key} read {hit[:1]}")
                elif op < 0.75:
                    cache.put(key, value(key))
                elif op < 0.9:
                    got = cache.get_or_compute(key, lambda k=key: value(k))
                    assert int(got[0]) == key
                elif op < 0.99:
                    cache.pop(key)
                else:
                    cache.clear()
                held = cache.nbytes
                if held > bound:
                    over.append(held)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=hammer, args=(i,)) for i in range(16)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert not any(w.is_alive() for w in workers), "a thread is stuck"
    assert errors == []
    assert over == []
    assert cache.nbytes == sum(
        deep_nbytes(cache.get(k)) + deep_nbytes(k) for k in range(40) if k in cache
    )
