"""A shadow of demand paging: the major faults a host-wide LRU with readahead would have taken
on the references the VMs actually made, counted at step boundaries from page ids and times
only (no frames, no I/O). Predictive paging's back-off compares its own faults with these.

Why at step boundaries: the executors report touched pages at different granularities (one
reference, or a window), but both leave the same exact last-use times at a boundary, so the
count is the same whichever executor ran. Within one step a page is counted at most once,
which is what LRU would do too (a page touched twice in a step is resident the second time).
"""

from __future__ import annotations

import numpy as np

from engine.hotpath.shadow_lru import B_VALID, NEVER_TOUCHED, shadow_hint, shadow_step

__all__ = ["NEVER_TOUCHED", "TRUSTED_OVERCOMMIT", "GhostLru"]
# Where the shadow is trusted: touched pages at least this many times its frames. Measured, at
# ~2x its faults are within ~5 % of demand paging's own; near 1x an LRU's misses hinge on a few
# frames and on the order the VMs run in, and the shadow is off by tens of per cent (at 1.14x,
# misprediction: whole runs up to +61 %), too far to judge a 5 % harm by (docs/results.md).
TRUSTED_OVERCOMMIT = 1.5


class GhostLru:
    """Host-wide LRU over page ids: a page touched again after `fit` other pages were touched
    or read ahead since its last use is a miss, and a miss reads its aligned readahead block
    (as demand paging's fixed readahead does), which then counts as recently used."""

    def __init__(self, base: np.ndarray, fit_pages: int, cluster_pages: int) -> None:
        self.base = np.asarray(base, dtype=np.int64)  # VM k owns [base[k], base[k+1])
        n_pages = int(self.base[-1])
        self.fit = max(1, int(fit_pages))
        self.cluster = max(1, int(cluster_pages))
        self.vm_of = np.repeat(np.arange(self.base.size - 1), np.diff(self.base))
        self.key_ns = np.full(n_pages, NEVER_TOUCHED, dtype=np.int64)  # LRU key: use or load
        self.faults = np.zeros(self.base.size - 1, dtype=np.int64)  # per VM, so far
        self.touched = 0  # distinct pages touched so far
        # The last horizon_ns (where the next search starts) and how far it moved from the
        # one before, shared with the compiled step, which keeps figures of its own after them
        # (engine.hotpath.shadow_lru: its band of the keys past the horizon).
        self._hint = shadow_hint()
        self._work = np.empty((4, n_pages), dtype=np.int64)  # the compiled step's scratch

    def trusted(self) -> bool:
        """Whether the pages touched so far overcommit the shadow enough to trust its count."""
        return self.touched >= TRUSTED_OVERCOMMIT * self.fit

    def horizon_ns(self) -> int:
        """The key below which a page is out of the shadow's frames (-1: every page fits):
        the fit-th largest key. When at least fit keys are at or above the last horizon (keys
        only grow, so nearly always) it is the fit-th largest of those: their k-th smallest,
        k the few that fell out since. Those k lie below the last horizon plus twice its last
        advance whenever more than k keys do, so usually only those few are searched."""
        last = int(self._hint[0])
        if last > NEVER_TOUCHED:
            above = self.key_ns >= last
            k = int(np.count_nonzero(above)) - self.fit
            if k >= 0:
                near = self.key_ns[above & (self.key_ns < last + 2 * int(self._hint[1]) + 1)]
                keys = near if near.size > k else self.key_ns[above]
                return self._moved_to(int(np.partition(keys, k)[k]))
        keys = self.key_ns[self.key_ns > NEVER_TOUCHED]
        if keys.size <= self.fit:
            return NEVER_TOUCHED
        return self._moved_to(int(np.partition(keys, keys.size - self.fit)[keys.size - self.fit]))

    def _moved_to(self, horizon: int) -> int:
        """Keep the new horizon and how far it moved: where the next search starts."""
        if self._hint[0] > NEVER_TOUCHED:
            self._hint[1] = horizon - self._hint[0]
        self._hint[0] = horizon
        return horizon

    def step_since(
        self, touch_ns: np.ndarray, recent: np.ndarray, since_ns: int, now_ns: int
    ) -> int:
        """`step` of the pages whose last touch (touch_ns, per page) is at or after since_ns,
        in one compiled call (engine.hotpath.shadow_lru): the same faults, keys and horizon.
        `recent` (a byte per page, in whole words of eight; updated) flags every page whose
        touch may be that late (`shadow_step` says which: the stamper sets a page's byte)."""
        faults, first_touches = shadow_step(
            self.key_ns, touch_ns, recent, since_ns, now_ns, self.fit, self.cluster, self.base,
            self.vm_of, self.faults, self._hint, self._work,
        )  # fmt: skip
        self.touched += first_touches
        return faults

    def step(self, pages: np.ndarray, used_ns: np.ndarray, now_ns: int) -> int:
        """`pages` (distinct) were touched (last at `used_ns`) since the previous call; returns
        the shadow's new major faults (a first touch is a minor fault and is not counted).
        The rule in numpy: runs call `step_since`, its compiled form."""
        if pages.size == 0:
            return 0
        self._hint[B_VALID] = 0  # keys change here unseen by the compiled step's band
        horizon = self.horizon_ns()
        before = self.key_ns[pages]
        self.touched += int(np.count_nonzero(before == NEVER_TOUCHED))
        missed = pages[(before > NEVER_TOUCHED) & (before < horizon)]
        self.key_ns[pages] = used_ns
        if missed.size == 0:
            return 0
        # One fault per readahead block: the first miss of a block reads the whole block.
        # A block is named by its first page: VMs' ranges ascend, so these sort as (VM, block).
        first = self.base[self.vm_of[missed]]
        start = np.unique(first + (missed - first) // self.cluster * self.cluster)
        vm = self.vm_of[start]
        ahead = (start[:, None] + np.arange(self.cluster)[None, :]).ravel()
        ahead = ahead[ahead < self.base[np.repeat(vm, self.cluster) + 1]]
        # Readahead brings in what is on swap: pages never touched stay untouched.
        ahead = ahead[self.key_ns[ahead] > NEVER_TOUCHED]
        self.key_ns[ahead] = np.maximum(self.key_ns[ahead], now_ns)
        np.add.at(self.faults, vm, 1)
        return int(start.size)
