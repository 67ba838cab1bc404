"""Means and 95 % confidence intervals over seeds (Student's t), for verdicts a reader can trust.

A verdict of policy B against A is stated over several seeds: for each metric the mean and
95 % interval of A and of B, and the *paired* interval of B − A (the same seed gives both
runs the same reference streams: common random numbers, so the per-seed differences are the
samples). Standard library only: the t quantiles are a table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

# Two-sided 95 % quantiles of Student's t, t(0.975, df) for df = 1..30, to 3 decimals: the
# standard table, e.g. NIST/SEMATECH e-Handbook of Statistical Methods §1.3.6.7.2 ("Critical
# values of the Student's t distribution"). Beyond df 30 the normal quantile 1.960 is used
# (t(0.975, 40) = 2.021, so the interval is then up to 3 % narrow).
T_975: tuple[float, ...] = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip
Z_975 = 1.959964


def t_975(df: int) -> float:
    """The two-sided 95 % quantile of Student's t with `df` degrees of freedom (df ≥ 1)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    return T_975[df - 1] if df <= len(T_975) else Z_975


@dataclass(frozen=True)
class Interval:
    """A sample's mean and its 95 % confidence interval [lo, hi] = mean ± half_width.

    With one sample there is no spread to measure: half_width, lo and hi are None."""

    n: int
    mean: float
    half_width: float | None
    lo: float | None
    hi: float | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def interval(samples: Iterable[float]) -> Interval:
    """Mean ± t(0.975, n−1) · s / √n, s the sample standard deviation (n − 1 in its divisor)."""
    xs = [float(x) for x in samples]
    n = len(xs)
    if n == 0:
        raise ValueError("an interval needs at least one sample")
    mean = math.fsum(xs) / n
    if n == 1:
        return Interval(1, mean, None, None, None)
    var = math.fsum((x - mean) ** 2 for x in xs) / (n - 1)
    half = t_975(n - 1) * math.sqrt(var / n)
    return Interval(n, mean, half, mean - half, mean + half)


def paired_interval(a: Sequence[float], b: Sequence[float]) -> Interval:
    """The interval of B − A from pairs measured on the same seed (a[i] and b[i])."""
    if len(a) != len(b):
        raise ValueError(f"paired samples need equal lengths, got {len(a)} and {len(b)}")
    return interval(float(y) - float(x) for x, y in zip(a, b, strict=True))


def is_number(value: Any) -> bool:
    """A figure an interval can be taken of: int or float, not bool, not None, finite."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def numeric_keys(summaries: Sequence[Mapping[str, Any]]) -> list[str]:
    """The keys that are numbers in every summary, in the first summary's order."""
    if not summaries:
        return []
    return [k for k in summaries[0] if all(is_number(s.get(k)) for s in summaries)]


def verdict(
    a: Sequence[Mapping[str, Any]],
    b: Sequence[Mapping[str, Any]],
    keys: Sequence[str] | None = None,
) -> dict[str, dict[str, Interval]]:
    """For each metric: {"a", "b", "delta"} intervals, delta the paired B − A, and "ratio",
    the interval of the per-seed B ÷ A, where A is nonzero on every seed.

    `a[i]` and `b[i]` are the summaries of seed i. The metrics are `keys` (default: every
    key that is a number in every summary of both); a key missing from some run is left out."""
    both = [*a, *b]
    chosen = numeric_keys(both) if keys is None else [k for k in keys if k in numeric_keys(both)]
    out: dict[str, dict[str, Interval]] = {}
    for k in chosen:
        xa = [float(s[k]) for s in a]
        xb = [float(s[k]) for s in b]
        out[k] = {"a": interval(xa), "b": interval(xb), "delta": paired_interval(xa, xb)}
        if all(x != 0 for x in xa):
            out[k]["ratio"] = interval(y / x for x, y in zip(xa, xb, strict=True))
    return out


def verdict_json(v: Mapping[str, Mapping[str, Interval]]) -> dict[str, dict[str, Any]]:
    """`verdict`'s result as plain JSON-ready dicts."""
    return {k: {side: i.to_json() for side, i in sides.items()} for k, sides in v.items()}
