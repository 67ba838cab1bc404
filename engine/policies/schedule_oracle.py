"""The schedule oracle: predictive paging told the truth about the next active period.

It runs `predictive`'s mechanism (restore before the planned slice with a lead from the
device, dispatch gating, swap-out and write-back) but knows the set of pages each VM will
really touch in its next active period, read from the VM's reference streams, in place of
the working set its history suggests: it restores that set, and takes its victims first from
the pages in no VM's next-period set (`SetVictims`). It knows the sets, not the order of
references inside a period, nor their times. It is the limit of what knowing the
scheduler's plan can buy, and so the yardstick for `predictive`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from engine.executor import BLOCK
from engine.hotpath.period_sets import slide_window
from engine.hotpath.restore_sets import set_first_restore, set_first_restore_size
from engine.policies import victims as pick
from engine.policies.demand import DemandPaging
from engine.policies.predictive import PredictivePaging
from engine.policies.registry import register
from engine.policies.schedule_victims import SetVictims
from engine.pool import SWAPPED

# A period's set is read from the streams over 1.5x the references the vCPU executed in its
# last slice (a full slice at full speed before its first): a VM that stalls less this time
# still finds its pages in the set. The set of a full slice at full speed is nearly the whole
# working set at real 2x (5,500 of 5,500 pages of a zipf VM of nvme_8vm_2x), so it told the
# victims little. Measured on nvme_8vm_2x, seed 2, steady lost time: margin 1.0 3,254.7 ms,
# 1.5 3,220.0 ms, 2.5 3,580.1 ms, a full slice 3,847.4 ms.
SET_MARGIN = 1.5

if TYPE_CHECKING:
    from engine.policies.context import PolicyContext


@register
class ScheduleOracle(SetVictims, PredictivePaging):
    """Predictive paging whose restore set is each VM's true next-period page set."""

    name = "schedule-oracle"
    menu_rank = 4

    def __init__(self, params: dict[str, Any], ctx: PolicyContext):
        super().__init__(params, ctx)
        self.vm_vcpus: list[list[int]] = [[] for _ in range(ctx.n_vms)]
        for vc in ctx.vcpus:
            self.vm_vcpus[vc.vm].append(vc.index)
        # Each VM's next-period set, kept up to date by engine.hotpath.period_sets: per page,
        # how many references of its vCPUs' windows use it, and whether any does; the spans
        # it is for; per vCPU, its window's references in a ring and [head, start, length].
        # The masks are views of one flag per page of the pool (`next_period_masks`).
        lo_hi = [self.machine.pool.vm_range(vm) for vm in range(ctx.n_vms)]
        self._set_counts = [np.zeros(hi - lo, dtype=np.int32) for lo, hi in lo_hi]
        self._set_flat = np.zeros(self.machine.pool.n_pages, dtype=bool)
        self._set_masks = [self._set_flat[lo:hi] for lo, hi in lo_hi]
        self._set_spans: list[tuple[tuple[int, int], ...]] = [() for _ in range(ctx.n_vms)]
        self._rings = [np.zeros(0, dtype=np.int64) for _ in ctx.vcpus]
        self._windows = np.zeros((len(ctx.vcpus), 3), dtype=np.int64)
        n_vcpus = len(ctx.vcpus)
        # References each vCPU executed in its last slice (-1: none yet), and where it began.
        self.slice_refs = np.full(n_vcpus, -1, dtype=np.int64)
        self.slice_from = np.zeros(n_vcpus, dtype=np.int64)

    def on_dispatch(self, vcpu: int, pcpu: int, now_ns: int) -> None:
        if not self.vcpu_blocked[vcpu]:  # a new slice, not the end of a wait for a read
            self.slice_from[vcpu] = self.ctx.vcpus[vcpu].pos
        super().on_dispatch(vcpu, pcpu, now_ns)

    def on_deschedule(self, vcpu: int, now_ns: int, reason: str) -> None:
        if reason != BLOCK:
            self.slice_refs[vcpu] = self.ctx.vcpus[vcpu].pos - self.slice_from[vcpu]
        super().on_deschedule(vcpu, now_ns, reason)

    def victims(self, n: int, now_ns: int, clean_only: bool = False) -> np.ndarray:
        """Ranked by the true next-period sets whenever the switch is on: the sets are known
        from the streams, not learnt from the plan, so they do not back off with it."""
        if not self.params.get("schedule_victims", True):
            return DemandPaging.victims(self, n, now_ns, clean_only)
        return self.ranked_victims(n, now_ns, clean_only)

    def _spans(self, vm: int) -> tuple[tuple[int, int], ...]:
        """(stream position, references) of the next slice of execution of each of the VM's
        vCPUs: SET_MARGIN times what the vCPU executed in its last slice (a VM's progress
        depends on its faults, so no stream says it exactly), at most what a slice holds at
        full speed."""
        ctx = self.ctx
        slice_ns = int(ctx.slice_ns)
        spans = []
        for v in self.vm_vcpus[vm]:
            vc = ctx.vcpus[v]
            full = max(1, slice_ns // max(1, vc.cpu_ns))
            last = int(self.slice_refs[v])
            spans.append((vc.pos, full if last < 0 else min(full, max(1, int(last * SET_MARGIN)))))
        return tuple(spans)

    def next_period_mask(self, vm: int) -> np.ndarray:
        """Per page of the VM (its range of the pool, in order): touched by its vCPUs in their
        next slice of execution from where their streams stand (`_spans`). Moved on with the
        streams, only by the references that left or joined the windows
        (engine.hotpath.period_sets): the set of `next_period_mask_reference`. The array is
        the VM's own, updated in place: read it before the streams move."""
        spans = self._spans(vm)
        if spans == self._set_spans[vm]:
            return self._set_masks[vm]
        for v, (pos, n) in zip(self.vm_vcpus[vm], spans, strict=True):
            rel, _ = self.ctx.vcpus[v].stream.take(pos, n)
            if rel.size > self._rings[v].size:
                self._rings[v] = self._regrown_ring(v, rel.size)
            slide_window(
                self._set_counts[vm], self._set_masks[vm], self._rings[v], self._windows[v],
                pos, rel,
            )  # fmt: skip
        self._set_spans[vm] = spans
        return self._set_masks[vm]

    def next_period_masks(self) -> np.ndarray:
        """Per page of the pool: in its VM's next-period set (every VM's next_period_mask,
        moved on with the streams, in one array: read it before they move)."""
        for vm in range(self.ctx.n_vms):
            self.next_period_mask(vm)
        return self._set_flat

    def _regrown_ring(self, v: int, size: int) -> np.ndarray:
        """vCPU v's ring made large enough for size references, its window moved to the front
        in order."""
        ring, window = self._rings[v], self._windows[v]
        head, _, length = (int(x) for x in window)
        grown = np.zeros(max(size, 2 * ring.size), dtype=np.int64)
        if length:
            grown[:length] = ring[(head + np.arange(length)) % ring.size]
        window[0] = 0
        return grown

    def next_period_mask_reference(self, vm: int) -> np.ndarray:
        """next_period_mask's set, built afresh from the streams: a boolean mark per reference
        of each vCPU's span."""
        lo, hi = self.machine.pool.vm_range(vm)
        mask = np.zeros(hi - lo, dtype=bool)
        for v, (pos, n) in zip(self.vm_vcpus[vm], self._spans(vm), strict=True):
            rel, _ = self.ctx.vcpus[v].stream.take(pos, n)
            mask[rel] = True
        return mask

    def next_period_pages(self, vm: int) -> np.ndarray:
        """The pages (global ids, ascending) of the VM's next period set (next_period_mask)."""
        return np.flatnonzero(self.next_period_mask(vm)) + self.machine.pool.vm_range(vm)[0]

    def restore_set(self, vm: int, now_ns: int) -> np.ndarray:
        """The swapped-out pages of the VM's next active period first, most recently used
        first (the oracle knows the set, not the order of use), then what predictive would
        restore besides (pages the VM is likely to use in the periods after), capped.
        Restoring the set alone was measured worse at real 2x (seed 1: 4,770 ms lost against
        4,481): what the guess adds keeps the VM's later periods from faulting.

        In recency order, chosen in one compiled call
        (engine.hotpath.restore_sets.set_first_restore): the pages and order of
        `restore_set_reference`, which states the rule in numpy."""
        if self.params.get("restore_order", "recency") == "frequency":
            return self.restore_set_reference(vm, now_ns)
        pool = self.machine.pool
        lo, hi = pool.vm_range(vm)
        return set_first_restore(
            self.next_period_mask(vm), pool.state, self.touch_vns, self.ws_since(vm, now_ns),
            self.vm_cap(vm), lo, hi, self.restore_work(),
        )  # fmt: skip

    def restore_set_reference(self, vm: int, now_ns: int) -> np.ndarray:
        """restore_set's pages, stated in numpy."""
        cap = self.vm_cap(vm)
        pages = self.next_period_pages(vm)
        pages = pages[self.machine.pool.state[pages] == SWAPPED]
        pages = pick.smallest(-self.touch_vns[pages], pages, cap)  # most recent first
        # The guess holds swapped pages only, so those in the set are exactly the set's
        # swapped pages (all of them, not only the first cap taken above).
        guess = super().restore_set_reference(vm, now_ns)
        more = guess[~self.next_period_mask(vm)[guess - self.machine.pool.vm_range(vm)[0]]]
        return np.concatenate([pages, more])[:cap]

    def restore_set_size(self, vm: int, now_ns: int) -> int:
        """restore_set(vm, now_ns).size, counted without ordering the pages (in either order:
        engine.hotpath.restore_sets.set_first_restore_size says why the count is exact)."""
        lo, hi = self.machine.pool.vm_range(vm)
        return set_first_restore_size(
            self.next_period_mask(vm), self.machine.pool.state, self.touch_vns,
            self.ws_since(vm, now_ns), self.vm_cap(vm), lo, hi,
        )  # fmt: skip

    def working_set_size(self, vm: int, now_ns: int) -> int:
        own = int(np.count_nonzero(self.next_period_mask(vm)))
        return max(own, super().working_set_size(vm, now_ns))
