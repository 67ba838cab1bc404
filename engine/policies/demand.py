"""Demand paging: fetch on fault only, with Linux-style swap readahead; victims by lru,
clock, fifo or random (VMware ESX's host-level choice)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import param

from engine.policies import register
from engine.policies import victims as pick
from engine.policies.base import Policy
from engine.scenario import Section

if TYPE_CHECKING:
    from engine.simulator import Simulation


class DemandParams(Section):
    victims = param.Selector(
        default="lru",
        objects=["lru", "clock", "fifo", "random"],
        doc="Which resident pages reclaim takes (host-wide).",
    )
    readahead = param.Selector(
        default="fixed",
        objects=["off", "fixed", "adaptive"],
        doc="Swap readahead: off, a fixed aligned cluster, or Linux's adaptive window.",
    )
    page_cluster = param.Integer(
        3, bounds=(0, 6), doc="Readahead cluster is 2**page_cluster pages (Linux default 3)."
    )


@register
class DemandPaging(Policy):
    """Faults bring pages in; reclaim takes victims when free frames run low."""

    name = "demand"
    Params = DemandParams

    def __init__(self, params: dict[str, Any], sim: Simulation):
        super().__init__(params, sim)
        seed = np.random.SeedSequence([sim.scenario.seed, 0x5EED])
        self.rng = np.random.default_rng(seed)
        self.clock = pick.Clock()
        self.lru = pick.Oldest("last_use_ns")
        self.fifo = pick.Oldest("load_ns")
        self.max_cluster = 1 << int(params.get("page_cluster", 3))
        self.window = np.full(sim.n_vms, self.max_cluster, dtype=np.int64)
        self.last_used = np.zeros(sim.n_vms, dtype=np.int64)

    def victims(self, n: int, now_ns: int, clean_only: bool = False) -> np.ndarray:
        kind = self.params.get("victims", "lru")
        pool = self.sim.pool
        if kind == "lru":
            return self.lru(pool, n, self.sim.now_ns, clean_only)
        if kind == "fifo":
            return self.fifo(pool, n, self.sim.now_ns, clean_only)
        if kind == "clock":
            return self.clock(pool, n, clean_only)
        return pick.random(pool, n, self.rng, clean_only)

    def readahead_cluster(self, vm: int) -> int:
        mode = self.params.get("readahead", "fixed")
        if mode == "off":
            return 1
        if mode == "fixed":
            return self.max_cluster
        # Linux swapin_nr_pages, per step: grow with readahead hits, halve at most per round.
        used = int(self.sim.counters.prefetch_used[vm])
        hits = used - int(self.last_used[vm])
        self.last_used[vm] = used
        want = 1 << int(np.ceil(np.log2(hits + 2))) if hits > 0 else 1
        want = max(want, int(self.window[vm]) // 2, 1)
        self.window[vm] = min(want, self.max_cluster)
        return int(self.window[vm])
