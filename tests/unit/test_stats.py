"""engine.stats: Student's t intervals of a mean and of paired differences, checked against
published values."""

from __future__ import annotations

import math

import pytest

from engine.stats import interval, numeric_keys, paired_interval, t_975, verdict

# Student (1908), "The probable error of a mean", the sleep data (R's `sleep` data set):
# extra hours of sleep of ten patients under two drugs.
SLEEP_DRUG_1 = (0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0)
SLEEP_DRUG_2 = (1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4)


def test_paired_interval_matches_the_textbook_sleep_example():
    """Drug 2 − drug 1 on the same patients: mean 1.58, 95 % interval [0.700, 2.460], as R's
    t.test(extra ~ group, data = sleep, paired = TRUE) prints (0.7001142, 2.4598858)."""
    i = paired_interval(SLEEP_DRUG_1, SLEEP_DRUG_2)
    assert i.n == 10
    assert i.mean == pytest.approx(1.58)
    assert i.lo == pytest.approx(0.7001142, abs=1e-3)
    assert i.hi == pytest.approx(2.4598858, abs=1e-3)


def test_one_sample_interval_matches_a_hand_computation():
    """2, 4, 4, 4, 5, 5, 7, 9: mean 5, s = 2.138, t(0.975, 7) = 2.365: 5 ± 1.788."""
    i = interval([2, 4, 4, 4, 5, 5, 7, 9])
    assert i.mean == 5.0
    assert i.half_width == pytest.approx(2.365 * math.sqrt(32 / 7) / math.sqrt(8), rel=1e-9)
    assert i.half_width == pytest.approx(1.788, abs=1e-3)
    assert (i.lo, i.hi) == pytest.approx((5 - i.half_width, 5 + i.half_width))


@pytest.mark.parametrize(("df", "t"), [(1, 12.706), (4, 2.776), (9, 2.262), (30, 2.042)])
def test_t_quantiles_are_the_published_ones(df, t):
    """t(0.975, df) from the standard table; beyond df 30 the normal 1.960."""
    assert t_975(df) == t
    assert t_975(31) == t_975(1000) == pytest.approx(1.96, abs=1e-3)


def test_one_sample_has_no_interval_and_none_is_an_error():
    """One seed gives a mean without an interval; no sample, or unequal pairs, is refused."""
    i = interval([3.5])
    assert (i.mean, i.half_width, i.lo, i.hi) == (3.5, None, None, None)
    with pytest.raises(ValueError, match="at least one"):
        interval([])
    with pytest.raises(ValueError, match="equal lengths"):
        paired_interval([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="at least 1"):
        t_975(0)


def test_verdict_covers_the_numeric_keys_every_run_has():
    """Keys that are numbers in every summary get a, b and paired-delta intervals; text,
    booleans, None and keys missing from a run are left out."""
    a = [{"x": 1, "name": "p", "flag": True, "half": 1.0, "gone": None}, {"x": 3, "half": 2.0}]
    b = [{"x": 2, "name": "q", "flag": False, "half": 1.0}, {"x": 5, "half": 2.0}]
    assert numeric_keys(a) == ["x", "half"]
    v = verdict(a, b)
    assert list(v) == ["x", "half"]
    assert v["x"]["a"].mean == 2.0 and v["x"]["b"].mean == 3.5
    assert v["x"]["delta"].mean == 1.5
    assert v["half"]["delta"].half_width == 0.0
    assert v["x"]["ratio"].mean == pytest.approx((2 / 1 + 5 / 3) / 2)  # per seed, then mean
    assert v["half"]["ratio"].mean == 1.0 and v["half"]["ratio"].half_width == 0.0
    assert "ratio" not in verdict([{"z": 0}, {"z": 1}], [{"z": 1}, {"z": 1}])["z"]
    assert list(verdict(a, b, keys=["half", "name"])) == ["half"]
