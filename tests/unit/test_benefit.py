"""The judge of whether predictive paging's plan-driven mechanisms pay (measured benefit)."""

from __future__ import annotations

from engine.policies.benefit import MeasuredBenefit

MS = 1_000_000


def judge() -> MeasuredBenefit:
    return MeasuredBenefit(
        epoch_ns=100 * MS, fault_ns=100_000, max_probation_epochs=4, min_evidence_faults=10
    )


def test_an_epoch_that_loses_less_time_than_demand_would_goes_on_acting() -> None:
    """1,000 shadow faults (100 ms at 0.1 ms each) against 60 ms stalled: it pays, it acts."""
    j = judge()
    assert j.decide(0)
    j.seen(1_000, 60 * MS)
    assert j.decide(100 * MS)
    assert j.acting and j.stand_downs == 0 and j.epochs_judged == 1


def test_an_epoch_that_loses_more_stands_down_for_a_probation_that_doubles() -> None:
    """120 ms stalled against demand's 100 ms: stand down one epoch, then a trial; a second
    failed trial stands down two epochs, and a paying one resets the probation."""
    j = judge()
    j.seen(1_000, 120 * MS)
    assert not j.decide(100 * MS)
    assert not j.decide(150 * MS)
    assert j.decide(200 * MS)  # the trial
    j.seen(1_000, 120 * MS)
    assert not j.decide(300 * MS)
    assert not j.decide(450 * MS)
    assert j.decide(500 * MS)
    assert j.stand_downs == 2
    j.seen(1_000, 10 * MS)
    assert j.decide(600 * MS)
    assert j.failed_trials == 0


def test_too_little_evidence_is_not_judged() -> None:
    """Five shadow faults are too few to judge (the bar is ten): it keeps acting, unjudged."""
    j = judge()
    j.seen(5, 50 * MS)
    assert j.decide(100 * MS)
    assert j.epochs_judged == 0
