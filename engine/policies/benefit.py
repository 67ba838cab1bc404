"""Predictive paging's ledger of what its plan-driven mechanisms bought and what they cost, in
device time, so that it backs off where it measurably harms even while the plan looks right.

Gain: restored pages that were then used, and that demand paging would have had to read too
(a page the policy itself evicted for a restore and then restored is no gain, only churn); each
is one demand read saved. Cost: pollution faults (pages it evicted for restores that were then
read back on demand: one demand read each), restored pages not used (their transfer), and the
time vCPUs were held at dispatch by gating. Both are exponentially weighted over a window.

A trial judged a loss (cost ≥ gain) stands the mechanisms down for a probation that doubles at
each failed trial (up to a limit) and is reset by a trial that pays; then it tries again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# A trial pays while its gain is more than this multiple of its cost. The gain is an upper
# bound (a page beyond LRU's reach might have come in by readahead); at 2.0 the ledger stood
# nvme_8vm_2x down at start-up, where the restores pay, and at 1.0 it still made misprediction
# with long bursts worse than no ledger (docs/results.md): the switch is off by default.
GAIN_OVER_COST = 1.0
# An epoch of acting on the plan pays while its stall is below this share of what demand
# paging's faults on the same references would have cost.
PAYS_BELOW = 1.0


@dataclass
class BenefitLedger:
    """Gain against cost, in ns of device or vCPU time; `paying` says whether to act."""

    fault_ns: int  # one demand read of a page: what a used restore saves, a pollution fault costs
    page_ns: float  # one page of a batched restore read: what an unused restored page cost
    window_ns: int  # the time constant of the weighting
    trial_ns: int  # the least time a trial runs before it is judged
    probation_ns: int  # the first stand-down; doubles at each failed trial
    max_probation_ns: int
    min_evidence_ns: int  # judge no trial on less than this much gain and cost together
    gain_ns: float = 0.0
    cost_ns: float = 0.0
    updated_ns: int = 0
    trial_since_ns: int = 0
    standing_down_until_ns: int = -1
    failed_trials: int = 0
    stand_downs: int = 0

    def _decay(self, now_ns: int) -> None:
        if now_ns > self.updated_ns:
            keep = math.exp(-(now_ns - self.updated_ns) / self.window_ns)
            self.gain_ns *= keep
            self.cost_ns *= keep
            self.updated_ns = now_ns

    def restores_scored(self, used_pages: int, unused_pages: int, now_ns: int) -> None:
        """An active period ended: of what was restored for it, `used_pages` saved a read each
        (only those demand paging would have read too), `unused_pages` were read for nothing."""
        self._decay(now_ns)
        self.gain_ns += used_pages * self.fault_ns
        self.cost_ns += unused_pages * self.page_ns

    def harm_seen(self, pollution_faults: int, gating_ns: int, now_ns: int) -> None:
        """Faults on pages evicted for restores, and time vCPUs were held at dispatch."""
        self._decay(now_ns)
        self.cost_ns += pollution_faults * self.fault_ns + gating_ns

    def paying(self, now_ns: int) -> bool:
        """Whether the mechanisms should act now: not during a stand-down; during a trial,
        until it has run `trial_ns` and its cost has caught up with its gain."""
        if now_ns < self.standing_down_until_ns:
            return False
        if self.standing_down_until_ns >= 0:  # a stand-down just ended: a fresh trial
            self.standing_down_until_ns = -1
            self.gain_ns = self.cost_ns = 0.0
            self.updated_ns = self.trial_since_ns = now_ns
        if now_ns - self.trial_since_ns < self.trial_ns:
            return True
        self._decay(now_ns)
        evidence = self.gain_ns + self.cost_ns
        if evidence < self.min_evidence_ns or GAIN_OVER_COST * self.cost_ns < self.gain_ns:
            self.failed_trials = 0
            return True
        wait = min(self.max_probation_ns, self.probation_ns << min(self.failed_trials, 30))
        self.failed_trials += 1
        self.stand_downs += 1
        self.standing_down_until_ns = now_ns + wait
        return False


@dataclass
class MeasuredBenefit:
    """Epochs of acting on the plan, judged against demand paging measured on the same
    references (`engine.policies.ghost_lru`): an epoch pays while the host's own stall stays
    below the shadow's faults at one demand read (with its readahead) each. An epoch that does
    not pay stands down, for a probation that doubles at each failed trial (up to a limit), the
    mechanisms that take frames or time ahead of need (predictive: gating, swap-out, write-back;
    its restores go on); after it a fresh trial epoch begins.

    Stall, not faults, because a restore that removes a fault but makes the next demand read
    queue behind it gains nothing. Not gating wait: summed over held vCPUs it is not host time
    (their pCPUs mostly run another VM meanwhile), and on nvme_8vm_2x counting it stood the
    policy down in epochs that did 60 % more work than demand paging.
    """

    epoch_ns: int  # how long an epoch runs before it is judged
    fault_ns: int  # one demand read with its readahead: what a shadow fault would have cost
    max_probation_epochs: int
    min_evidence_faults: int  # judge no epoch on fewer shadow faults than this
    acting: bool = True
    epoch_start_ns: int = 0
    shadow_faults: int = 0
    stall_ns: int = 0
    until_ns: int = -1  # the end of a stand-down
    failed_trials: int = 0
    stand_downs: int = 0
    epochs_judged: int = 0

    def seen(self, shadow_faults: int, stall_ns: int) -> None:
        """Since the last step: the shadow's faults and the host's own stall."""
        self.shadow_faults += shadow_faults
        self.stall_ns += stall_ns

    def pays(self) -> bool:
        """Whether this epoch stalled less than demand paging would have."""
        return self.stall_ns < self.shadow_faults * self.fault_ns * PAYS_BELOW

    def decide(self, now_ns: int) -> bool:
        """Whether the mechanisms act in the step starting at now_ns."""
        if not self.acting:
            if now_ns < self.until_ns:
                return False
            self.acting = True  # a trial
            self._new_epoch(now_ns)
            return True
        if now_ns - self.epoch_start_ns < self.epoch_ns:
            return True
        if self.shadow_faults < self.min_evidence_faults:
            self._new_epoch(now_ns)
            return True
        self.epochs_judged += 1
        if self.pays():
            self.failed_trials = 0
            self._new_epoch(now_ns)
            return True
        probation = min(self.max_probation_epochs, 1 << min(self.failed_trials, 30))
        self.failed_trials += 1
        self.stand_downs += 1
        self.acting = False
        self.until_ns = now_ns + probation * self.epoch_ns
        return False

    def restart(self, now_ns: int) -> None:
        """Forget past trials: act, and judge a fresh epoch from now."""
        self.acting = True
        self.failed_trials = 0
        self.until_ns = -1
        self._new_epoch(now_ns)

    def _new_epoch(self, now_ns: int) -> None:
        self.epoch_start_ns = now_ns
        self.shadow_faults = self.stall_ns = 0
