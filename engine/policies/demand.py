"""Demand paging: fetch on fault only, with Linux's swap readahead (off, the fixed page-cluster
block, or the kernel's hit-driven adaptive window); victims by lru, clock, fifo or random
(VMware ESX's host-level choice)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import param

from engine.policies import victims as pick
from engine.policies.base import Policy
from engine.policies.readahead import AdaptiveWindow, aligned_block
from engine.policies.registry import register
from engine.settings import Section

if TYPE_CHECKING:
    from engine.policies.context import PolicyContext


class DemandParams(Section):
    victims = param.Selector(
        default="lru",
        objects=["lru", "clock", "fifo", "random"],
        doc="Which resident pages reclaim takes (host-wide).",
    )
    readahead = param.Selector(
        default="fixed",
        objects=["off", "fixed", "adaptive"],
        doc=(
            "Swap readahead: off; fixed: the aligned block of 2**page_cluster pages; adaptive: "
            "Linux's window (swapin_nr_pages), grown by readahead hits, at most that block."
        ),
    )
    page_cluster = param.Integer(
        3, bounds=(0, 6), doc="Readahead cluster is 2**page_cluster pages (Linux default 3)."
    )


@register
class DemandPaging(Policy):
    """Faults bring pages in; reclaim takes victims when free frames run low."""

    name = "demand"
    menu_rank = 0
    Params = DemandParams
    quiet_boundary = True  # nothing at a step boundary; the cluster is a fixed setting

    def __init__(self, params: dict[str, Any], ctx: PolicyContext):
        super().__init__(params, ctx)
        seed = np.random.SeedSequence([ctx.seed, 0x5EED])
        self.rng = np.random.default_rng(seed)
        self.clock = pick.Clock()
        self.lru = pick.Oldest("last_use_ns")
        self.fifo = pick.Oldest("load_ns")
        self.max_cluster = 1 << int(params.get("page_cluster", 3))
        self.adaptive: AdaptiveWindow | None = None
        if params.get("readahead", "fixed") == "adaptive":
            # The window changes at every fault: the executors ask at each one.
            self.adaptive = AdaptiveWindow(ctx.n_vms, int(params.get("page_cluster", 3)))
            self.vector_readahead = False

    def victims(self, n: int, now_ns: int, clean_only: bool = False) -> np.ndarray:
        kind = self.params.get("victims", "lru")
        pool = self.machine.pool
        if kind == "lru":
            return self.lru(pool, n, self.machine.now_ns, clean_only)
        if kind == "fifo":
            return self.fifo(pool, n, self.machine.now_ns, clean_only)
        if kind == "clock":
            return self.clock(pool, n, clean_only)
        return pick.random(pool, n, self.rng, clean_only)

    def victim_list(self) -> pick.Oldest | None:
        """The kept list behind victims() when it is a plain LRU or FIFO order (so the
        compiled hot path may take direct reclaim's victims from it); None otherwise, and for
        a subclass of Oldest (which may check or change its answers)."""
        if type(self).victims is not DemandPaging.victims:
            return None
        kind = self.params.get("victims", "lru")
        kept = self.lru if kind == "lru" else self.fifo if kind == "fifo" else None
        return kept if type(kept) is pick.Oldest else None

    def readahead_cluster(self, vm: int) -> int:
        """The fixed block (or none) the compiled executor reads with each fault."""
        return 1 if self.params.get("readahead", "fixed") == "off" else self.max_cluster

    def row_fault_read(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Adaptive readahead's rows and settings, with which the compiled executor makes
        fault_prefetch's read itself (engine.hotpath.row_fault); None without it."""
        if self.adaptive is None:
            return None
        return self.adaptive.rows, self.adaptive.config

    def fault_prefetch(self, vm: int, page: int, now_ns: int) -> np.ndarray | None:
        """Adaptive readahead: the aligned block of the window Linux would choose now."""
        if self.adaptive is None:
            return None
        base = int(self.machine.pool.base[vm])
        offset = page - base
        used = int(self.machine.counters.prefetch_used[vm])
        pages = self.adaptive.pages(vm, offset, used)
        if pages <= 1:
            return None
        start, end = aligned_block(offset, pages)
        return base + np.arange(start, end, dtype=np.int64)
