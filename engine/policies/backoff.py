"""When `predictive` stands down to demand paging: while the plan has been mostly wrong (its
accuracy over recent dispatches), and, with the back-off on measured benefit, while an epoch
of acting on the plan stalled more than demand paging would have (engine.policies.benefit,
against the shadow LRU of engine.policies.ghost_lru). A mixin of PredictivePaging, which sets
the attributes declared here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from engine.policies.benefit import MeasuredBenefit
from engine.policies.ghost_lru import GhostLru

if TYPE_CHECKING:
    from engine.machine import Machine
    from engine.policies.context import PolicyContext

# While the plan has been mostly wrong, the policy is demand paging (it keeps learning).
BACKOFF_STOPS = ("restore", "gating", "schedule_victims", "swap_out", "write_back")
# While acting on the plan has not paid (engine.policies.benefit), the mechanisms that take
# frames or time ahead of need stand down; restoring what is already out goes on (stopping it
# mid-way would leave swapped-out VMs to fault everything back).
UNPAID_STOPS = ("gating", "swap_out", "write_back")


class PlanBackOff:
    """The switches as they stand now: on, unless backed off or not paying."""

    ctx: PolicyContext
    machine: Machine
    params: dict[str, Any]
    active: bool  # the policy acts at all (a plan, and a lane to spare from demand reads)
    backed_off: bool  # the plan has been mostly wrong: demand paging
    not_paying: bool  # the judge stood the mechanisms that take frames or time down
    accuracy: float  # plan accuracy over recent dispatches
    judged: int  # dispatches judged so far
    plan_slack_ns: int  # how far a dispatch may miss its planned start and count as planned
    by_benefit: bool  # backoff_on = "benefit"
    shadow: GhostLru  # demand paging's faults on the same references
    judge: MeasuredBenefit
    shadow_trusted: bool  # the shadow is precise enough for the judge to decide
    touch_ns: np.ndarray  # per page: its last touch, host time
    touch_recent: np.ndarray  # per page: 1 if its touch may be the shadow's next step's
    _shadow_since: int  # touches since then are the shadow's next step
    _stall_seen: int  # the host's stall booked so far
    stats: dict[str, int]

    def _on(self, switch: str) -> bool:
        if not self.active or not self.params.get(switch, True):
            return False
        if self.not_paying and switch in UNPAID_STOPS:
            return False
        return not (self.backed_off and switch in BACKOFF_STOPS)

    def _judge_benefit(self, now_ns: int) -> None:
        """Count, for the last step, demand paging's faults on the references made (the
        shadow) and the host's own stall; with the back-off on measured benefit, once the
        shadow can be trusted (engine.policies.ghost_lru), the judge's verdict is whether the
        plan-driven mechanisms act now (before, and where it never can, the plan's accuracy)."""
        if not self.by_benefit:
            return
        shadow = self.shadow.step_since(
            self.touch_ns, self.touch_recent, self._shadow_since, now_ns
        )
        self._shadow_since = now_ns
        c = self.machine.counters
        stall = int(c.stall_ns.sum())
        self.judge.seen(shadow, stall - self._stall_seen)
        self._stall_seen = stall
        if not self.params.get("backoff", True):
            return
        trusted = self.shadow.trusted()
        if trusted and not self.shadow_trusted:  # the judge takes over: a fresh trial
            self.judge.restart(now_ns)
        self.shadow_trusted = trusted
        if trusted:
            # The plan-driven mechanisms that take frames or time ahead of need stand down;
            # restores go on, so a VM swapped out for its cycle is not left to fault back.
            self.backed_off = False
            self.not_paying = not self.judge.decide(now_ns)
            self.stats["not_paying_steps"] += int(self.not_paying)

    def _track_accuracy(self, vcpu: int, now_ns: int, gated: bool) -> None:
        """Plan accuracy over recent dispatches (exponentially weighted): was this dispatch
        predicted by the plan of the last boundary, within a tolerance of one step or of two
        device reads (a non-preemptible fault may overrun a slice by one)? Dispatches gating
        itself moved do not count. The policy starts backed off: it acts on the plan once the
        plan has proven right."""
        if gated:
            return
        predicted = self.ctx.boundary_plan.next_start(vcpu)
        planned = predicted >= 0 and abs(predicted - now_ns) <= self.plan_slack_ns
        # While there is little evidence, its mean under Jeffreys' prior (half a right and
        # half a wrong dispatch: three right ones in a row engage the policy); then an
        # exponentially weighted mean of the recent dispatches.
        self.judged += 1
        weight = max(1.0 / 8, 1.0 / (self.judged + 1))
        self.accuracy += (float(planned) - self.accuracy) * weight
        if not self.params.get("backoff", True):
            self.backed_off = False
            return
        if self.by_benefit and self.shadow_trusted:
            return
        below = float(self.params.get("backoff_below", 0.7))
        if self.backed_off:
            self.backed_off = self.accuracy < min(0.95, below + 0.15)
        else:
            self.backed_off = self.accuracy < below
