"""A cache that sessions (threads) share safely: least recently used first out, bounded by bytes.

Every read, write and eviction holds one lock, so a reader never sees an entry half removed
(a membership test then a read on a plain dict can raise KeyError when another thread clears
it in between). The bound is on the bytes the entries hold (numpy arrays, strings and the
containers around them, measured once when stored), not on their count: one recording can
weigh more than a thousand small entries. An entry larger than the whole bound is not kept.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from types import ModuleType
from typing import Generic, TypeVar

import numpy as np

V = TypeVar("V")

_CONTAINER_BYTES = 64  # a list, dict or object header: small, but not free


def deep_nbytes(value: object, _seen: set[int] | None = None) -> int:
    """Bytes held by a value: numpy buffers, strings and bytes, through lists, tuples, dicts,
    dataclasses and plain objects; each object counted once. An estimate for a bound, not an
    exact figure (interpreter overheads of small objects are approximated)."""
    seen = set() if _seen is None else _seen
    stack = [value]
    total = 0
    while stack:
        v = stack.pop()
        if v is None or isinstance(v, bool | int | float | complex | np.generic):
            total += 0 if v is None else 32
            continue
        if id(v) in seen:
            continue
        seen.add(id(v))
        if isinstance(v, np.ndarray):
            # A view owns no buffer of its own; its base is counted once if reachable.
            total += v.nbytes if v.base is None else _CONTAINER_BYTES
            if v.dtype == object:
                stack.extend(v.ravel().tolist())
        elif isinstance(v, str | bytes | bytearray):
            total += sys.getsizeof(v)
        elif isinstance(v, dict):
            total += _CONTAINER_BYTES + 16 * len(v)
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list | tuple | set | frozenset):
            total += _CONTAINER_BYTES + 8 * len(v)
            stack.extend(v)
        elif dataclasses.is_dataclass(v) and not isinstance(v, type):
            total += _CONTAINER_BYTES
            stack.extend(getattr(v, f.name) for f in dataclasses.fields(v))
        elif hasattr(v, "__dict__") and not isinstance(v, type | ModuleType) and not callable(v):
            total += _CONTAINER_BYTES
            stack.extend(vars(v).values())
        else:
            total += sys.getsizeof(v, _CONTAINER_BYTES)
    return total


class BoundedCache(Generic[V]):
    """Thread-safe LRU mapping whose entries hold at most `max_bytes` in all.

    `size_of(value)` measures an entry (deep_nbytes by default); the key's bytes count too.
    Entries must not be mutated once stored: the measure is taken at `put`."""

    def __init__(self, max_bytes: int, size_of: Callable[[V], int] = deep_nbytes):
        if max_bytes < 0:
            raise ValueError(f"max_bytes is {max_bytes}; it must be 0 or more")
        self.max_bytes = int(max_bytes)
        self.size_of = size_of
        self._items: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        """The value stored under key (now the most recently used), or None."""
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                return None
            self._items.move_to_end(key)
            return hit[0]

    def put(self, key: Hashable, value: V) -> bool:
        """Store value under key, evicting the least recently used entries until the bound
        holds; False (and nothing stored) when the entry alone is larger than the bound."""
        size = int(self.size_of(value)) + deep_nbytes(key)  # measured outside the lock
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            if size > self.max_bytes:
                return False
            self._items[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, evicted) = self._items.popitem(last=False)
                self._bytes -= evicted
            return True

    def get_or_compute(self, key: Hashable, compute: Callable[[], V]) -> V:
        """The cached value, or compute() stored and returned (computed outside the lock:
        two threads may both compute a missing entry; a deterministic value makes that safe)."""
        hit = self.get(key)
        if hit is not None:
            return hit
        value = compute()
        self.put(key, value)
        return value

    def pop(self, key: Hashable) -> V | None:
        """Remove and return the entry under key, None when absent."""
        with self._lock:
            hit = self._items.pop(key, None)
            if hit is None:
                return None
            self._bytes -= hit[1]
            return hit[0]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    @property
    def nbytes(self) -> int:
        """Bytes held by the entries now (their measures at `put`)."""
        with self._lock:
            return self._bytes

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items
