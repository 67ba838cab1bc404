"""Victims ranked by the scheduler's plan, for `predictive`: pages whose predicted use is
farthest go first. A mixin of PredictivePaging, which sets the attributes declared here."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from engine.hotpath.schedule_rank import ranked_pages, set_ranked_pages
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
    _rank_work: np.ndarray | None = None  # the rankings' scratch (rank_work)

    def ranked_victims(
        self, n: int, now_ns: int, clean_only: bool = False, above: int = PROTECTED - 1
    ) -> np.ndarray:
        """Up to n evictable pages, farthest predicted use first, least recently used (in the
        owner's own clock) within equal keys; only pages whose key exceeds `above` (a planned
        start: never evict for it a page needed sooner). Keys: an idle VM's pages, its next
        planned start (NEVER if not planned); a running VM that will then be inactive for
        long: the pages it will not need before its next slice, that start; every other page
        of a running VM: PROTECTED.

        Chosen in one compiled call (engine.hotpath.schedule_rank.ranked_pages): the pages
        and the order of `ranked_victims_reference`, which states the rule in numpy."""
        if n <= 0:
            return np.zeros(0, dtype=np.int64)
        pool = self.machine.pool
        return ranked_pages(
            n, above, PROTECTED, now_ns, clean_only, pool.state, pool.base, self.running_vcpus,
            self.next_starts(now_ns), self.run_until, self.period_start, self.vm_time,
            self.touch_vns, self.ws_vns, self.min_idle_ns, self.rank_work(),
        )  # fmt: skip

    def rank_work(self) -> np.ndarray:
        """The compiled rankings' scratch: three rows as long as the pool (made at first use: a
        mixin has no __init__ of its own)."""
        if self._rank_work is None:
            self._rank_work = np.empty((3, self.machine.pool.n_pages), dtype=np.int64)
        return self._rank_work

    def ranked_victims_reference(
        self, n: int, now_ns: int, clean_only: bool = False, above: int = PROTECTED - 1
    ) -> np.ndarray:
        """ranked_victims' choice, stated in numpy (a VM and a key at a time)."""
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


class SetVictims(ScheduleVictims):
    """Victims for a policy that knows each VM's page set for its next active period (the
    schedule oracle): pages in no VM's next-period set first, their VM's next planned start
    farthest first; then the pages of those sets, the period that starts farthest first; a
    running VM's set last. Within equal keys, least recently used in the owner's clock (the
    set is known, the order of references inside a period is not)."""

    next_period_mask: Callable[[int], np.ndarray]  # per page of the VM: in its next-period set
    next_period_masks: Callable[[], np.ndarray]  # per page of the pool: in its VM's set

    def ranked_victims(
        self, n: int, now_ns: int, clean_only: bool = False, above: int = PROTECTED - 1
    ) -> np.ndarray:
        """Up to n evictable pages in the order above. `above` (a planned start) spares the
        set pages needed at or before it; a page in no set is needed by no coming period,
        so it is always eligible.

        Chosen in one compiled call (engine.hotpath.schedule_rank.set_ranked_pages): the
        pages and the order of `ranked_victims_reference`, which states the rule in numpy.
        It reads every VM's set, where the reference reads those of the VMs it reaches: the
        sets are moved on with the streams either way, only at other times."""
        if n <= 0:
            return np.zeros(0, dtype=np.int64)
        pool = self.machine.pool
        return set_ranked_pages(
            n, above, PROTECTED, now_ns, clean_only, pool.state, pool.base, self.running_vcpus,
            self.next_starts(now_ns), self.period_start, self.vm_time, self.touch_vns,
            self.next_period_masks(), self.rank_work(),
        )  # fmt: skip

    def ranked_victims_reference(
        self, n: int, now_ns: int, clean_only: bool = False, above: int = PROTECTED - 1
    ) -> np.ndarray:
        """ranked_victims' choice, stated in numpy (a tier, a key and a VM at a time)."""
        if n <= 0:
            return np.zeros(0, dtype=np.int64)
        nxt = self.next_starts(now_ns)
        # When each VM's set is needed: a running VM's now, any other's at its next start.
        needed = np.where(self.running_vcpus > 0, PROTECTED, nxt)
        groups: dict[tuple[int, int], list[int]] = {}
        for vm in range(self.ctx.n_vms):
            groups.setdefault((0, -int(nxt[vm])), []).append(vm)
            groups.setdefault((1, -int(needed[vm])), []).append(vm)
        split: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        out: list[np.ndarray] = []
        need = n
        for tier, key in sorted(groups):
            if need <= 0 or (tier == 1 and -key <= above):
                break
            parts = []
            for vm in groups[(tier, key)]:
                if vm not in split:
                    split[vm] = self._split_by_set(vm, clean_only)
                parts.append(split[vm][tier])
            pages = np.concatenate(parts)
            owner = self.machine.pool.vm_of[pages]
            age = self.touch_vns[pages] - self.vm_clocks(now_ns)[owner]
            chosen = pick.smallest(age, pages, need)
            out.append(chosen)
            need -= int(chosen.size)
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def _split_by_set(self, vm: int, clean_only: bool) -> tuple[np.ndarray, np.ndarray]:
        """The VM's evictable pages: (outside its next-period set, inside it), ascending."""
        pool = self.machine.pool
        lo, hi = pool.vm_range(vm)
        pages = pick.candidates(pool, clean_only, lo, hi)
        inside = self.next_period_mask(vm)[pages - lo]
        return pages[~inside], pages[inside]
