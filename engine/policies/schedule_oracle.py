"""The schedule oracle: predictive paging told the truth about the next active period.

It runs `predictive`'s mechanism unchanged (restore before the planned slice with a lead
from the device, dispatch gating, schedule-aware victims, swap-out and write-back) but
restores the set of pages each VM will really touch in its next active period, read from
the VM's reference streams, in place of the working set its history suggests. It knows the
set, not the order (pages are read in page order) and not the times. It is the limit of
what knowing the scheduler's plan can buy, and so the yardstick for `predictive`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from engine.policies.predictive import PredictivePaging
from engine.policies.registry import register
from engine.pool import SWAPPED

if TYPE_CHECKING:
    from engine.policies.context import PolicyContext


@register
class ScheduleOracle(PredictivePaging):
    """Predictive paging whose restore set is each VM's true next-period page set."""

    name = "schedule-oracle"
    menu_rank = 4

    def __init__(self, params: dict[str, Any], ctx: PolicyContext):
        super().__init__(params, ctx)
        self.vm_vcpus: list[list[int]] = [[] for _ in range(ctx.n_vms)]
        for vc in ctx.vcpus:
            self.vm_vcpus[vc.vm].append(vc.index)
        self._sets: dict[int, tuple[tuple[int, ...], np.ndarray]] = {}

    def next_period_pages(self, vm: int) -> np.ndarray:
        """The pages (global ids, ascending) the VM's vCPUs touch in one slice of execution
        from where their streams stand: as many references as a slice holds at full speed
        (a VM that stalls executes fewer, so this is the set or a little more)."""
        ctx = self.ctx
        positions = tuple(ctx.vcpus[v].pos for v in self.vm_vcpus[vm])
        cached = self._sets.get(vm)
        if cached is not None and cached[0] == positions:
            return cached[1]
        slice_ns = int(ctx.slice_ns)
        parts = []
        for v in self.vm_vcpus[vm]:
            vc = ctx.vcpus[v]
            rel, _ = vc.stream.take(vc.pos, max(1, slice_ns // max(1, vc.cpu_ns)))
            parts.append(rel.astype(np.int64))
        pages = np.unique(np.concatenate(parts)) + int(self.machine.pool.base[vm])
        self._sets[vm] = (positions, pages)
        return pages

    def restore_set(self, vm: int, now_ns: int) -> np.ndarray:
        """The swapped-out pages of the VM's next active period first, most recently used
        first (the oracle knows the set, not the order of use), then what predictive would
        restore besides (pages the VM is likely to use in the periods after), capped."""
        pages = self.next_period_pages(vm)
        pages = pages[self.machine.pool.state[pages] == SWAPPED]
        pages = pages[np.lexsort((pages, -self.touch_vns[pages]))]
        guess = super().restore_set(vm, now_ns)
        more = guess[~np.isin(guess, pages, assume_unique=True)]
        return np.concatenate([pages, more])[: self.vm_cap(vm)]

    def working_set_size(self, vm: int, now_ns: int) -> int:
        own = int(self.next_period_pages(vm).size)
        return max(own, super().working_set_size(vm, now_ns))
