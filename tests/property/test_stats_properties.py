"""engine.stats' intervals: no width without spread, wider with more spread, centred on the
mean."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.stats import interval, paired_interval

values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@given(values, st.integers(min_value=2, max_value=40))
def test_identical_samples_have_an_interval_of_zero_width(x, n):
    """n copies of one value: the mean is the value and the interval has no width."""
    i = interval([x] * n)
    assert i.mean == pytest.approx(x)
    assert i.half_width == pytest.approx(0.0, abs=1e-9 * max(1.0, abs(x)))


@given(
    # Spread well above rounding at the samples' magnitude, so the ratio is exact enough.
    st.lists(values, min_size=2, max_size=30).filter(
        lambda xs: max(xs) - min(xs) > 1e-3 * max(1.0, *map(abs, xs))
    ),
    st.floats(min_value=1.01, max_value=100.0),
)
def test_the_interval_widens_with_spread(xs, k):
    """Spreading the samples k times further from their mean widens the interval k times."""
    narrow = interval(xs)
    wide = interval([narrow.mean + k * (x - narrow.mean) for x in xs])
    assert narrow.half_width is not None and wide.half_width is not None
    assert wide.half_width > narrow.half_width
    assert wide.half_width == pytest.approx(k * narrow.half_width, rel=1e-6)
    assert narrow.lo <= narrow.mean <= narrow.hi


@given(st.lists(values, min_size=2, max_size=30), values)
def test_a_constant_paired_difference_is_known_exactly(a, shift):
    """B = A + c on every seed: the paired interval is c with no width, however A spreads."""
    i = paired_interval(a, [x + shift for x in a])
    assert i.mean == pytest.approx(shift, abs=1e-6)
    assert i.half_width == pytest.approx(0.0, abs=1e-6)
