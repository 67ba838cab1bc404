"""Making room ahead of need for `predictive`: a VM that goes inactive for long swaps out, in
the background, the pages the restores planned before its return need frames for (proactive
swap-out), and shortly before its slice ends writes back the dirty ones among them (background
writing, Ryu et al.), so that they free their frames at once. A mixin of PredictivePaging,
which sets the attributes declared here."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from engine.device import BACKGROUND_WRITE
from engine.hotpath.restore_sets import count_in_state
from engine.policies import victims as pick
from engine.pool import DIRTY

if TYPE_CHECKING:
    from engine.machine import Machine
    from engine.policies.context import PolicyContext


class SwapOutAhead:
    """Which pages go out, and which are written back, before the restores need their frames."""

    ctx: PolicyContext
    machine: Machine
    running_vcpus: np.ndarray  # per VM: its vCPUs running now
    run_until: np.ndarray  # per VM: when its running slices end
    armed: np.ndarray  # per VM: a restore is due for its next period
    written: np.ndarray  # per VM: background writing done this period
    wb_pages: np.ndarray  # per VM: the swap-out pages that writing covered
    touch_vns: np.ndarray  # per page: its VM's own time at its last touch
    min_idle_ns: int  # inactive time (planned) that counts as long
    stats: dict[str, int]
    budget: Callable[[int, int], int]
    restore_set_size: Callable[[int, int], int]
    lead_ns: Callable[[int, int], int]

    def _swap_out(self, idle: list[int], nxt: np.ndarray, now_ns: int) -> None:
        """A VM that just went inactive for long swaps out, in the background, its least
        recently used pages that the restores planned before its return need frames for."""
        m, pool = self.machine, self.machine.pool
        away = [vm for vm in idle if self.running_vcpus[vm] == 0]
        away = [vm for vm in away if int(nxt[vm]) - now_ns >= self.min_idle_ns]
        for vm in sorted(away, key=lambda u: (-int(nxt[u]), u)):  # farthest first
            sooner = np.flatnonzero((nxt < nxt[vm]) & self.armed & (self.running_vcpus == 0))
            need = self._restores_need(sooner, nxt, now_ns)
            short = need - (pool.free_frames - m.low_wm) - m.writing_pending
            if short <= 0:
                continue
            pages = self._coldest(vm, short)
            m.evict(pages, now_ns, BACKGROUND_WRITE, for_prefetch=True)
            self.stats["swap_out_pages"] += int(pages.size)

    def _write_back(self, nxt: np.ndarray, now_ns: int) -> None:
        """Background writing (Ryu et al.): a VM whose slice ends soon and that will then be
        inactive for long writes back, in time, the dirty pages the swap-out at its switch
        will take (its least recently used), so they are clean when the frames are needed."""
        m, pool = self.machine, self.machine.pool
        step = self.ctx.step_ns
        ending = [
            vm
            for vm in range(self.ctx.n_vms)
            if self.running_vcpus[vm] > 0
            and not self.written[vm]
            and int(nxt[vm]) - int(self.run_until[vm]) >= self.min_idle_ns
        ]
        if not ending:
            return
        # A VM writes only once even the most it could write would land just in time: while
        # none can, nothing is written this step and what the restores need is not worked
        # out. (Exact: until a VM writes, the lead times stay as they are now, so a VM too
        # early here is too early where the loop below asks.)
        # (each VM's dirty pages, counted once: a VM's count changes only by its own write)
        dirty_of = {vm: self._dirty_count(vm) for vm in ending}
        if all(self._too_early(vm, dirty_of[vm], now_ns) for vm in ending):
            return
        end = min(int(self.run_until[vm]) for vm in ending)
        coming = np.flatnonzero(self.armed & (self.running_vcpus == 0) & (nxt <= end + step))
        need = self._restores_need(coming, nxt, now_ns)
        need -= pool.free_frames - m.low_wm + m.writing_pending
        # What an ending VM already covers for this switch counts once, not once per VM.
        need -= int(self.wb_pages[(self.running_vcpus > 0) & self.written].sum())
        if need <= 0:
            return
        for vm in sorted(ending, key=lambda u: (int(self.run_until[u]), u)):
            if need <= 0:
                break
            # Not yet, whichever pages the swap-out takes: writing every dirty page it could
            # take (no more than need, no more than the VM has dirty) would land in time too,
            # so the pass over the VM's pages that picks them can wait.
            if self._too_early(vm, min(need, dirty_of[vm]), now_ns):
                continue
            # The pages the swap-out will take (its least recently used); the dirty ones
            # among them are written now, the clean ones free their frames as they are.
            pages = self._coldest(vm, need)
            dirty = pages[pool.state[pages] == DIRTY]
            if self._too_early(vm, int(dirty.size), now_ns):
                continue  # not yet: written too early, they would be dirtied again
            self.written[vm] = True
            self.wb_pages[vm] = pages.size
            self.stats["write_back_pages"] += m.write_back(dirty, now_ns)
            need -= int(pages.size)

    def _too_early(self, vm: int, n_dirty: int, now_ns: int) -> bool:
        """Whether writing n_dirty pages of the VM now would land more than a step before its
        running slices end (its pages would be dirtied again). A lead time never shrinks with
        more pages (lead_time.restore_lead_ns), so what holds for n holds for fewer."""
        return int(self.run_until[vm]) - now_ns > self.lead_ns(n_dirty, now_ns) + self.ctx.step_ns

    def _dirty_count(self, vm: int) -> int:
        """The VM's dirty pages: the most that a write-back of its pages can write."""
        lo, hi = self.machine.pool.vm_range(vm)
        return int(count_in_state(self.machine.pool.state, lo, hi, DIRTY))

    def _restores_need(self, vms: np.ndarray, nxt: np.ndarray, now_ns: int) -> int:
        """What the restores of these VMs will read, soonest start first: their working sets,
        within what the device can land before each start (the device is shared, so the
        budgets are cumulative)."""
        need = 0
        for u in sorted(vms.tolist(), key=lambda x: (int(nxt[x]), x)):
            room = self.budget(int(nxt[u]), now_ns) - need
            need += max(0, min(self.restore_set_size(u, now_ns), room))
        return need

    def _coldest(self, vm: int, n: int) -> np.ndarray:
        """Up to n evictable pages of the VM, least recently used in its own clock first."""
        pool = self.machine.pool
        lo, hi = pool.vm_range(vm)
        cand = pick.candidates(pool, False, lo, hi)
        return pick.smallest(self.touch_vns[cand], cand, n)
