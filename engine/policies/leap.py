"""Leap's majority-trend prefetcher (Maruf and Chowdhury, USENIX ATC 2020), per VM.

On every major fault Leap records the delta from the previous fault, looks for a majority
delta (Boyer-Moore vote) in the most recent 8, 16, then 32 deltas, and reads the next pages
along that trend; with no trend it falls back to reading the pages around the fault, as
Linux readahead does. The window grows with prefetch hits and halves at most per fault.
Victims are demand paging's (LRU by default).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import param

from engine.hotpath.row_config import C_FIRST_WINDOW, C_KIND, C_MAX_WINDOW, N_CONFIG, ROW_LEAP
from engine.hotpath.trend_fault import (
    T_COUNT,
    T_DELTAS,
    T_HITS_SEEN,
    T_LAST,
    T_WINDOW,
    trend_rows,
)
from engine.policies.demand import DemandPaging
from engine.policies.registry import register
from engine.settings import Section

if TYPE_CHECKING:
    from engine.policies.context import PolicyContext


class LeapParams(Section):
    victims = param.Selector(
        default="lru",
        objects=["lru", "clock", "fifo", "random"],
        doc="Which resident pages reclaim takes (host-wide).",
    )
    history = param.Integer(
        32, bounds=(2, 1024), doc="Fault deltas remembered per VM (Leap's H_size)."
    )
    splits = param.Integer(
        4, bounds=(1, 64), doc="The first vote looks at history/splits deltas, then doubles."
    )
    max_window_pages = param.Integer(
        8, bounds=(1, 256), doc="Most pages read ahead on one fault (Leap's PW_max)."
    )


def majority(deltas: np.ndarray) -> int | None:
    """Boyer-Moore majority vote: the value held by more than half the deltas, or None."""
    candidate, votes = 0, 0
    for d in deltas.tolist():
        if votes == 0:
            candidate, votes = d, 1
        elif d == candidate:
            votes += 1
        else:
            votes -= 1
    if votes and int(np.count_nonzero(deltas == candidate)) * 2 > deltas.size:
        return int(candidate)
    return None


def find_trend(deltas: np.ndarray, first_window: int) -> int | None:
    """Leap's FindTrend: a majority among the newest `first_window` deltas (history size ÷
    splits), then twice as many, until the whole history has voted."""
    if deltas.size == 0:
        return None
    w = max(1, min(first_window, deltas.size))
    while True:
        found = majority(deltas[-w:])
        if found is not None or w >= deltas.size:
            return found
        w = min(deltas.size, w * 2)


@register
class LeapPrefetcher(DemandPaging):
    """Demand paging whose readahead follows the majority trend of recent faults."""

    name = "leap"
    menu_rank = 2
    Params = LeapParams  # type: ignore[assignment]  # demand's readahead switches do not apply
    vector_readahead = False

    def __init__(self, params: dict[str, Any], ctx: PolicyContext):
        super().__init__(params, ctx)
        self.h_size = int(params.get("history", 32))
        self.splits = int(params.get("splits", 4))
        self.pw_max = int(params.get("max_window_pages", 8))
        # Per VM one row (engine.hotpath.trend_fault: faults recorded, the last faulting page,
        # the window, the hits seen, the ring of deltas), which the compiled executor's fault
        # reads update too: the two paths work on the same figures.
        self.rows = trend_rows(ctx.n_vms, self.h_size)
        self.config = np.zeros(N_CONFIG, dtype=np.int64)
        self.config[C_KIND] = ROW_LEAP
        self.config[C_FIRST_WINDOW] = self.first_window = max(1, self.h_size // self.splits)
        self.config[C_MAX_WINDOW] = self.pw_max

    def _history(self, vm: int) -> np.ndarray:
        """The VM's recorded deltas, oldest first."""
        row = self.rows[vm]
        k = int(row[T_COUNT])
        ring = row[T_DELTAS:]
        if k < self.h_size:
            return ring[:k]
        start = k % self.h_size
        return np.concatenate([ring[start:], ring[:start]])

    def fault_prefetch(self, vm: int, page: int, now_ns: int) -> np.ndarray | None:
        row = self.rows[vm]
        last = int(row[T_LAST])
        row[T_LAST] = page
        if last >= 0:
            row[T_DELTAS + int(row[T_COUNT]) % self.h_size] = page - last
            row[T_COUNT] += 1
        trend = find_trend(self._history(vm), self.first_window)
        # Leap's window: prefetch hits since the last fault decide its size.
        used = int(self.machine.counters.prefetch_used[vm])
        hits, row[T_HITS_SEEN] = used - int(row[T_HITS_SEEN]), used
        prev = int(row[T_WINDOW])
        if hits == 0:
            size = 1 if trend is not None and last >= 0 and page - last == trend else 0
        else:
            size = 1 << int(hits).bit_length()  # the power of two above hits
        size = max(min(size, self.pw_max), prev // 2)
        row[T_WINDOW] = size
        if size == 0:
            return None
        if trend is not None and trend != 0:
            return page + trend * np.arange(1, size + 1, dtype=np.int64)
        # No trend: the aligned block around the fault, like Linux readahead.
        base = int(self.machine.pool.base[vm])
        lo = base + (page - base) // size * size
        return np.arange(lo, lo + size, dtype=np.int64)

    def row_fault_read(self) -> tuple[np.ndarray, np.ndarray]:
        """The rows and settings with which the compiled executor makes fault_prefetch's
        read itself (engine.hotpath.row_fault)."""
        return self.rows, self.config
