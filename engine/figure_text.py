"""A figure as a reader reads it: a negative value that rounds to zero is shown as zero.

Python formats -0.4 with "{:+,.0f}" as "-0" and -0.0004 with "{:.1%}" as "-0.0%": a sign
with no magnitude behind it, which reads as a small loss (or a count below zero) where the
figure, as printed, is none. The interval of a difference over seeds ends that way whenever
its end lies within half a unit below zero (e.g. a count's paired difference "+0 [-0, +1]").
"""

from __future__ import annotations

from collections.abc import Callable

NONZERO_DIGITS = frozenset("123456789")


def shown(value: float, fmt: Callable[[float], str]) -> str:
    """fmt(value), or fmt(0.0) where value is negative (-0.0 too) and fmt(value) shows no
    digit but 0 ("0", "+0", "0.0%" as an exact zero prints, never "-0")."""
    text = fmt(value)
    if value <= 0 and NONZERO_DIGITS.isdisjoint(text):
        return fmt(0.0)
    return text


def shown_in(value: float, pattern: str) -> str:
    """shown() of a str.format pattern such as "{:+,.0f}"."""
    return shown(value, pattern.format)
