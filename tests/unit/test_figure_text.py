"""A figure that rounds to zero reads as zero: no "-0" in a table or an interval
(the cards: tests/webapp/test_cards.py)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.cli.common import interval_cell, range_cell, verdict_rows
from engine.figure_text import shown_in
from engine.stats import verdict, verdict_json

PATTERNS = ("{:,.0f}", "{:+,.0f}", "{:.1%}", "{:+.1%}", "{:,.1f}", "{:+.3f}", "{:,.4g}")
# A sign followed by nothing but zeros (and the pattern's separators and unit).
NEGATIVE_ZERO = re.compile(r"[-−]0(?:[.,]0*)?(?![0-9.,]*[1-9])")


@pytest.mark.parametrize(
    ("value", "pattern", "text"),
    [
        (-0.4, "{:+,.0f}", "+0"),
        (-0.4, "{:,.0f}", "0"),
        (-0.0004, "{:.1%}", "0.0%"),
        (-0.0004, "{:+.1%}", "+0.0%"),
        (-0.6, "{:+,.0f}", "-1"),  # rounds to a count: kept
        (-1e-5, "{:,.4g}", "-1e-05"),  # shows a digit: kept
        (0.4, "{:+,.0f}", "+0"),
        (-0.0, "{:,.0f}", "0"),
        (float("nan"), "{:,.0f}", "nan"),
        (-1234.5, "{:,.1f}", "-1,234.5"),
    ],
)
def test_a_negative_value_is_zero_only_where_its_text_is(value, pattern, text):
    assert shown_in(value, pattern) == text


@given(st.floats(-10.0, 10.0), st.sampled_from(PATTERNS))
def test_no_text_is_a_sign_before_zeros(value, pattern):
    """Whatever the value, its text never carries a sign with no digit but 0 behind it, and
    it says the value's own figure wherever one shows a digit."""
    text = shown_in(value, pattern)
    assert not text.startswith("-") or re.search("[1-9]", text), text
    if re.search("[1-9]", pattern.format(value)):
        assert text == pattern.format(value)


def test_a_count_whose_interval_ends_just_below_zero_reads_plus_zero():
    """`vmswap compare`'s cells: a paired difference of gated dispatches over five seeds,
    mean 0.2 and interval [-0.36, 0.76], read "+0 [+0, +1]" (it read "+0 [-0, +1]")."""
    a = [{"gated": 0.0} for _ in range(5)]
    b = [{"gated": g} for g in (0.0, 0.0, 0.0, 0.0, 1.0)]
    iv = verdict_json(verdict(a, b))["gated"]
    assert -0.5 < iv["delta"]["lo"] < 0
    assert range_cell(iv["delta"], "{:,.0f}") == "+0 [+0, +1]"
    assert interval_cell(iv["b"], "{:,.0f}").startswith("0 ± ")
    row = verdict_rows(verdict_json(verdict(a, b)), [("gated", "gated", "{:,.0f}")])[0]
    assert not any(NEGATIVE_ZERO.search(cell) for cell in row), row
