"""The oracle's time maps: for each vCPU, when its planned CPU time from now runs (segment
starts, cumulative reference capacity, ns per reference), kept for one (plan, time, rates).

A map is made the first time it is asked for under the current (plan, time, rates), from
the state of the pCPUs at that moment, and kept until one of the three changes: the maps a
step's prefetch and victims read are those the oracle made one vCPU at a time, made here in
one compiled call for all the vCPUs asked for at once and held in flat arrays that the
compiled planning and victim selection read directly."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from engine.hotpath.time_maps import build_time_maps, slot_offsets

if TYPE_CHECKING:
    from engine.policies.context import PolicyContext
    from engine.scheduler import Plan


class TimeMaps:
    """Every vCPU's time map under one (plan, now_ns, rates); `ns_per_ref` is the caller's
    array of each vCPU's time per reference, and `rates_changed` says it moved."""

    def __init__(self, ctx: PolicyContext, ns_per_ref: np.ndarray):
        self.ctx = ctx
        self.n = len(ctx.vcpus)
        self.ns_per_ref = ns_per_ref
        self.built = np.zeros(self.n, dtype=np.bool_)
        self.seg_len = np.zeros(self.n, dtype=np.int64)
        self._plan: Plan | None = None
        self._now_ns = -1
        self._rates = 0  # bumped when ns_per_ref changes: the maps change with it
        self._made_for: tuple[Plan | None, int, int] = (None, -1, -1)
        self.slot_off = np.zeros(self.n + 1, dtype=np.int64)
        self.starts = np.zeros(0, dtype=np.int64)
        self.cum = np.zeros(0, dtype=np.int64)
        self._all = np.ones(self.n, dtype=np.bool_)
        # What `built` holds, known without looking: none (just forgotten) or all (ensure_all
        # made them); else some, and a look decides.
        self._none_built, self._all_built = True, False
        # build_time_maps' view of the pCPUs, filled afresh for each call.
        self._runs = np.zeros(self.n, dtype=np.bool_)
        self._begin = np.zeros(self.n, dtype=np.int64)
        self._end = np.zeros(self.n, dtype=np.int64)

    def rates_changed(self) -> None:
        """ns_per_ref moved: every map is made afresh when next asked for."""
        self._rates += 1

    def _current(self, now_ns: int) -> None:
        """Forget the maps made under another (plan, time, rates)."""
        plan = self.ctx.boundary_plan
        made = self._made_for
        if plan is made[0] and now_ns == made[1] and self._rates == made[2]:
            return
        if plan is not self._plan:
            self._plan = plan
            self.slot_off = slot_offsets(plan.vcpu, self.n)
            size = int(self.slot_off[-1])
            self.starts = np.empty(size, dtype=np.int64)
            self.cum = np.empty(size, dtype=np.int64)
        self._made_for = (plan, now_ns, self._rates)
        self.built[:] = False
        self._none_built, self._all_built = True, False

    def ensure(self, want: np.ndarray, now_ns: int) -> None:
        """Make the maps of the vCPUs in `want` (a flag each) that are not made yet."""
        self._current(now_ns)
        if self._all_built or (not self._none_built and self.built[want].all()):
            return
        ctx = self.ctx
        runs, begin, end = self._runs, self._begin, self._end
        runs.fill(False)
        begin.fill(0)
        end.fill(0)
        for p, v in enumerate(ctx.running):
            if v >= 0 and not runs[v]:
                # pCPUs run one after another within a step: this vCPU's position is where
                # its pCPU's clock is (the caller's own clock may be up to a step ahead).
                runs[v] = True
                end[v] = ctx.slice_end[p]
                begin[v] = ctx.pcpu_time[p] if ctx.pcpu_time[p] > 0 else now_ns
        plan = ctx.boundary_plan
        build_time_maps(
            want, self.built, now_ns, self.ns_per_ref, runs, begin, end, ctx.plan_tolerance_ns,
            plan.vcpu, plan.start_ns, plan.end_ns, plan.made_ns, self.slot_off, self.seg_len,
            self.starts, self.cum,
        )  # fmt: skip
        self._none_built = False  # (or still none, if none was wanted: a look will tell)
        self._all_built = want is self._all

    def ensure_all(self, now_ns: int) -> None:
        """Make every vCPU's map (the prefetch planning reads them all)."""
        self.ensure(self._all, now_ns)

    def of(self, v: int, now_ns: int) -> tuple[np.ndarray, np.ndarray, int]:
        """(segment starts, cumulative reference capacity, ns per reference) of vCPU v."""
        self._current(now_ns)
        if not self.built[v]:
            want = np.zeros(self.n, dtype=np.bool_)
            want[v] = True
            self.ensure(want, now_ns)
        lo = int(self.slot_off[v])
        hi = lo + int(self.seg_len[v])
        return self.starts[lo:hi], self.cum[lo:hi], int(self.ns_per_ref[v])
