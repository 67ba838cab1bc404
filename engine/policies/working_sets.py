"""The working sets `predictive` restores: pages stamped in their VM's own clock (its
scheduled time, so pages do not age while the VM waits), the restore set of a VM (its swapped
pages used in its last k active periods, capped), and the cap's scale, which follows how much
of each restore was used. A mixin of PredictivePaging, which sets the attributes declared here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from engine.hotpath.restore_sets import recent_swapped, recent_swapped_size
from engine.hotpath.touch_stamps import stamp_touches
from engine.policies import victims as pick
from engine.pool import PREFETCHED, SWAPPED

if TYPE_CHECKING:
    from engine.machine import Machine
    from engine.policies.context import PolicyContext


class WorkingSets:
    """Each VM's working set in its own clock, and what of it a restore reads."""

    ctx: PolicyContext
    machine: Machine
    params: dict[str, Any]
    vector_readahead: bool
    vm_time: np.ndarray  # per VM: its own clock when its current period began
    period_start: np.ndarray  # per VM: when its current active period began (host time)
    running_vcpus: np.ndarray  # per VM: its vCPUs running now
    touch_vns: np.ndarray  # per page: its VM's own time at its last touch
    touch_ns: np.ndarray  # per page: its last touch, host time
    touch_recent: np.ndarray  # per page: 1 if stamped since the shadow LRU's last step
    history: np.ndarray  # per page: bit i set if touched in its VM's i-th last period
    ws_vns: int  # the working-set window in VM time (k periods)
    restored: np.ndarray  # per page: restored and not yet scored
    scale: np.ndarray  # per VM: the share of the cap its next restore may read
    cap_pages: int  # most pages one restore reads
    batch: int  # pages per restore read operation
    _restore_work: np.ndarray | None = None  # the compiled restore sets' scratch

    def after_run(self, vm: int, pages: np.ndarray, major_pages: np.ndarray) -> None:
        """Stamp what the VM's run touched (engine.hotpath.touch_stamps, one compiled call:
        the stamps of `after_run_reference`)."""
        pool = self.machine.pool
        cluster = int(self.machine.ra_cluster[vm])
        with_readahead = major_pages.size > 0 and cluster > 1 and self.vector_readahead
        stamp_touches(
            pages, major_pages, self.history, self.touch_vns, self.touch_ns, pool.last_use_ns,
            pool.state, pool.load_ns, int(self.period_start[vm]), int(self.vm_time[vm]),
            cluster if with_readahead else 0, int(pool.base[vm]), int(pool.base[vm + 1]),
            self.touch_recent,
        )  # fmt: skip

    def after_run_reference(self, vm: int, pages: np.ndarray, major_pages: np.ndarray) -> None:
        """after_run's stamps, stated in numpy."""
        pool = self.machine.pool
        self.history[pages] |= np.uint32(1)
        start, base = int(self.period_start[vm]), int(self.vm_time[vm])
        self.touch_vns[pages] = base + (pool.last_use_ns[pages] - start)
        self.touch_ns[pages] = pool.last_use_ns[pages]
        self.touch_recent[pages] = 1
        cluster = int(self.machine.ra_cluster[vm])
        if major_pages.size and cluster > 1 and self.vector_readahead:
            # Readahead came in with these faults: it counts as used now, as LRU would see it.
            first = int(pool.base[vm])
            lo = first + (major_pages - first) // cluster * cluster
            ra = (lo[:, None] + np.arange(cluster)[None, :]).ravel()
            ra = ra[ra < pool.base[vm + 1]]
            # Only what landed in this period: a page of the cluster prefetched earlier keeps
            # its stamp (its load time is from another period, not this VM time's base).
            ra = ra[(pool.state[ra] == PREFETCHED) & (pool.load_ns[ra] >= start)]
            self.touch_vns[ra] = base + (pool.load_ns[ra] - start)

    def restore_set(self, vm: int, now_ns: int) -> np.ndarray:
        """The VM's swapped-out working-set pages (used in its last k periods of execution) in
        restore order, capped. In recency order, chosen in one compiled call
        (engine.hotpath.restore_sets): the pages and order of `restore_set_reference`, which
        states the rule in numpy and orders by frequency when asked."""
        if self.params.get("restore_order", "recency") == "frequency":
            return self.restore_set_reference(vm, now_ns)
        pool = self.machine.pool
        lo, hi = pool.vm_range(vm)
        since = self.ws_since(vm, now_ns)
        return recent_swapped(
            pool.state, self.touch_vns, since, self.vm_cap(vm), lo, hi, self.restore_work()
        )

    def restore_set_reference(self, vm: int, now_ns: int) -> np.ndarray:
        """restore_set's pages, stated in numpy."""
        pool = self.machine.pool
        lo, hi = pool.vm_range(vm)
        touched = self.touch_vns[lo:hi]
        since = self.ws_since(vm, now_ns)
        idx = np.flatnonzero((touched >= since) & (pool.state[lo:hi] == SWAPPED))
        if idx.size == 0:
            return idx
        pages = idx + lo
        if self.params.get("restore_order", "recency") == "frequency":
            recent = -touched[idx]
            order = np.lexsort((pages, recent, -np.bitwise_count(self.history[pages])))
            return pages[order][: self.vm_cap(vm)]
        # Most recent first, ties to the lower page: the (key, page) order of smallest.
        return pick.smallest(-touched[idx], pages, self.vm_cap(vm))

    def restore_set_size(self, vm: int, now_ns: int) -> int:
        """restore_set(vm, now_ns).size, counted without ordering the pages."""
        pool = self.machine.pool
        lo, hi = pool.vm_range(vm)
        since = self.ws_since(vm, now_ns)
        return recent_swapped_size(pool.state, self.touch_vns, since, self.vm_cap(vm), lo, hi)

    def restore_work(self) -> np.ndarray:
        """The compiled restore sets' scratch: three rows as long as the largest VM (made at
        first use: a mixin has no __init__ of its own)."""
        if self._restore_work is None:
            self._restore_work = np.empty(
                (3, int(np.diff(self.machine.pool.base).max())), dtype=np.int64
            )
        return self._restore_work

    def ws_since(self, vm: int, now_ns: int) -> int:
        """The VM's clock when its working-set window began (k periods of its time ago): the
        pages touched at or after it are its working set. At least 1: touch_vns is 0 for a
        page never touched."""
        return max(1, self.vm_clock(vm, now_ns) - self.ws_vns)

    def vm_clock(self, vm: int, now_ns: int) -> int:
        """The VM's own time: its scheduled time so far."""
        t = int(self.vm_time[vm])
        return t + now_ns - int(self.period_start[vm]) if self.running_vcpus[vm] > 0 else t

    def vm_clocks(self, now_ns: int) -> np.ndarray:
        running = self.running_vcpus > 0
        return self.vm_time + np.where(running, now_ns - self.period_start, 0)

    def vm_cap(self, vm: int) -> int:
        return max(self.batch, int(self.cap_pages * float(self.scale[vm])))

    def working_set_size(self, vm: int, now_ns: int) -> int:
        lo, hi = self.machine.pool.vm_range(vm)
        since = self.ws_since(vm, now_ns)
        return int(np.count_nonzero(self.touch_vns[lo:hi] >= since))

    def _score_restore(self, vm: int, now_ns: int) -> None:
        """At the end of an active period: how much of what was restored for it was used, which
        halves or doubles (up to the cap) what the VM's next restore reads."""
        lo, hi = self.machine.pool.vm_range(vm)
        marked = self.restored[lo:hi]
        n = int(np.count_nonzero(marked))
        if n < self.batch:
            return
        touched = marked & ((self.history[lo:hi] & np.uint32(1)) != 0)
        used = int(np.count_nonzero(touched))
        marked[:] = False
        if used < n // 2:
            self.scale[vm] = max(1.0 / 1024, self.scale[vm] / 2)
        elif used >= n * 4 // 5:
            self.scale[vm] = min(1.0, self.scale[vm] * 2)
