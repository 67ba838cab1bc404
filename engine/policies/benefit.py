"""Predictive paging's judge of whether acting on the plan pays: epochs of acting, each judged
by the host's own stall against what demand paging would have stalled on the same references
(a shadow LRU, `engine.policies.ghost_lru`); an epoch that does not pay stands the mechanisms
that take frames or time ahead of need down, for a probation that doubles while trials fail.
"""

from __future__ import annotations

from dataclasses import dataclass

# An epoch of acting on the plan pays while its stall is below this share of what demand
# paging's faults on the same references would have cost.
PAYS_BELOW = 1.0


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
