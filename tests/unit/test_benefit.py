"""The ledger predictive paging keeps of what its mechanisms bought against what they cost."""

from __future__ import annotations

from engine.policies.benefit import BenefitLedger, MeasuredBenefit

MS = 1_000_000


def ledger() -> BenefitLedger:
    return BenefitLedger(
        fault_ns=100_000,
        page_ns=1_000.0,
        window_ns=500 * MS,
        trial_ns=100 * MS,
        probation_ns=50 * MS,
        max_probation_ns=200 * MS,
        min_evidence_ns=1 * MS,
    )


def test_restores_that_save_more_reads_than_they_cause_keep_paying() -> None:
    """100 used restores against 10 pollution faults: the mechanisms go on acting."""
    book = ledger()
    book.restores_scored(100, 0, 50 * MS)
    book.harm_seen(10, 0, 60 * MS)
    assert book.paying(150 * MS)
    assert book.stand_downs == 0


def test_a_loss_stands_down_and_the_stand_down_doubles_while_trials_fail() -> None:
    """Pollution faults and gating beyond the gain: stand down 50 ms, then 100, capped at 200."""
    book = ledger()
    book.restores_scored(5, 0, 10 * MS)
    book.harm_seen(50, 2 * MS, 20 * MS)
    assert not book.paying(100 * MS)
    assert book.standing_down_until_ns == 150 * MS
    assert not book.paying(149 * MS)
    assert book.paying(150 * MS)  # a fresh trial, judged after trial_ns
    book.harm_seen(50, 0, 160 * MS)
    assert book.paying(249 * MS)
    assert not book.paying(250 * MS)
    assert book.standing_down_until_ns == 350 * MS
    for _ in range(3):
        book.paying(book.standing_down_until_ns)
        book.harm_seen(50, 0, book.updated_ns + 1)
        book.paying(book.trial_since_ns + 100 * MS)
    assert book.standing_down_until_ns - book.trial_since_ns - 100 * MS == 200 * MS


def test_no_verdict_without_evidence() -> None:
    """With neither gain nor cost booked (the policy has not acted) it is not stood down."""
    book = ledger()
    assert book.paying(10_000 * MS)
    assert book.stand_downs == 0


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
