"""Victims ranked by the scheduler's plan, for `predictive`: pages whose predicted use is
farthest go first. A mixin of PredictivePaging, which sets the attributes declared here."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from engine.policies import victims as pick

if TYPE_CHECKING:
    from engine.machine import Machine
    from engine.policies.context import PolicyContext

PROTECTED = -1  # victim key of pages a running VM is expected to touch again in this slice


class ScheduleVictims:
    """Schedule-aware victims: by next planned start, then least recently used in VM time."""

    ctx: PolicyContext
    machine: Machine
    running_vcpus: np.ndarray  # per VM: its vCPUs running now
    run_until: np.ndarray  # per VM: when its running slices end
    period_start: np.ndarray  # per VM: when its current active period began
    vm_time: np.ndarray  # per VM: its own clock when that period began
    touch_vns: np.ndarray  # per page: its VM's own time at its last touch
    ws_vns: int  # the working-set window in VM time
    min_idle_ns: int  # inactive time that counts as long
    next_starts: Callable[[int], np.ndarray]
    vm_clock: Callable[[int, int], int]
    vm_clocks: Callable[[int], np.ndarray]

    def ranked_victims(
        self, n: int, now_ns: int, clean_only: bool = False, above: int = PROTECTED - 1
    ) -> np.ndarray:
        """Up to n evictable pages, farthest predicted use first, least recently used (in the
        owner's own clock) within equal keys; only pages whose key exceeds `above` (a planned
        start: never evict for it a page needed sooner). Keys: an idle VM's pages, its next
        planned start (NEVER if not planned); a running VM that will then be inactive for
        long: the pages it will not need before its next slice, that start; every other page
        of a running VM: PROTECTED."""
        if n <= 0:
            return np.zeros(0, dtype=np.int64)
        pool = self.machine.pool
        nxt = self.next_starts(now_ns)
        groups: dict[int, list[np.ndarray]] = {}
        for vm in range(self.ctx.n_vms):
            if self.running_vcpus[vm] == 0:
                groups.setdefault(int(nxt[vm]), [])
                continue
            lo, hi = pool.vm_range(vm)
            pages = pick.candidates(pool, clean_only, lo, hi)
            if int(nxt[vm]) - int(self.run_until[vm]) < self.min_idle_ns:
                # It runs on (its next slice follows at once): one working set, all needed.
                groups.setdefault(PROTECTED, []).append(pages)
                continue
            # Not needed before its next slice, as far as anyone can tell: out of its working
            # set (unused in its last k periods of execution), or unused in this period once
            # it has executed for longer than its slice has left.
            touched = self.touch_vns[pages]
            cold = touched < self.vm_clock(vm, now_ns) - self.ws_vns
            ran = now_ns - int(self.period_start[vm])
            if ran >= int(self.run_until[vm]) - now_ns:
                cold |= touched <= int(self.vm_time[vm])
            groups.setdefault(int(nxt[vm]), []).append(pages[cold])
            pages = pages[~cold]
            groups.setdefault(PROTECTED, []).append(pages)
        out: list[np.ndarray] = []
        need = n
        for key in sorted(groups, reverse=True):
            if key <= above or need <= 0:
                break
            parts = groups[key]
            for vm in range(self.ctx.n_vms):  # idle VMs' candidates, computed only when reached
                if self.running_vcpus[vm] == 0 and int(nxt[vm]) == key:
                    lo, hi = pool.vm_range(vm)
                    parts.append(pick.candidates(pool, clean_only, lo, hi))
            pages = np.concatenate(parts)
            # Oldest in the owner's virtual time first: a VM slowed by faults is not penalised.
            owner = pool.vm_of[pages]
            age = self.touch_vns[pages] - self.vm_clocks(now_ns)[owner]
            chosen = pick.smallest(age, pages, need)
            out.append(chosen)
            need -= int(chosen.size)
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)
