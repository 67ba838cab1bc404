"""Metric cards: A, B and the difference B − A for the figures a user reads first."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from webapp.runs import RunPair, coverage


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    lower_is_better: bool
    fmt: Callable[[float], str]
    diff_fmt: Callable[[float], str]


def _count(v: float) -> str:
    return f"{v:,.0f}"


def _pct(v: float) -> str:
    return f"{v:.1%}"


def _pp(v: float) -> str:
    return f"{v * 100:+.1f} pp"


def _times(v: float) -> str:
    return f"{v:.3f}×"


METRICS = (
    Metric("major_faults", "major faults", True, _count, lambda d: f"{d:+,.0f}"),
    Metric("stall_fraction", "stall", True, _pct, _pp),
    Metric("prefetch_accuracy", "prefetch accuracy", False, _pct, _pp),
    Metric("coverage", "prefetch coverage", False, _pct, _pp),
    Metric("slowdown", "slowdown", True, _times, lambda d: f"{d:+.3f}×"),
)


def metric_values(runs: RunPair) -> dict[str, tuple[float | None, float | None]]:
    """(A, B) of every card; None where a figure does not apply (no prefetches, no baseline)."""
    out: dict[str, tuple[float | None, float | None]] = {}
    sa, sb = runs.a.result.summary, runs.b.result.summary
    for m in METRICS:
        if m.key == "coverage":
            ref = runs.reference_major_faults
            out[m.key] = (coverage(sa["major_faults"], ref), coverage(sb["major_faults"], ref))
        elif m.key == "prefetch_accuracy":
            out[m.key] = tuple(  # type: ignore[assignment]
                s.get(m.key) if s.get("prefetch_issued", 0) else None for s in (sa, sb)
            )
        else:
            out[m.key] = (sa.get(m.key), sb.get(m.key))
    return out


def _cell(value: float | None, fmt: Callable[[float], str]) -> str:
    return "–" if value is None else html.escape(fmt(float(value)))


def cards_html(runs: RunPair | None, labels: tuple[str, str] = ("A", "B")) -> str:
    """The cards as HTML (whole-run figures)."""
    if runs is None:
        return '<div class="vm-cards vm-empty">Simulating…</div>'
    values = metric_values(runs)
    parts = ['<div class="vm-cards">']
    for m in METRICS:
        a, b = values[m.key]
        diff, cls = "", "same"
        if a is not None and b is not None:
            d = float(b) - float(a)
            better = d < 0 if m.lower_is_better else d > 0
            cls = "same" if abs(d) < 1e-12 else ("better" if better else "worse")
            diff = html.escape(m.diff_fmt(d))
        parts.append(
            f'<div class="vm-card" data-metric="{m.key}" data-a="{_raw(a)}" data-b="{_raw(b)}">'
            f'<div class="vm-card-label">{html.escape(m.label)}</div>'
            f"{_row('a', labels[0], _cell(a, m.fmt))}{_row('b', labels[1], _cell(b, m.fmt))}"
            f'<div class="vm-card-diff vm-{cls}">B − A {diff or "–"}</div>'
            "</div>"
        )
    parts.append("</div>")
    return "".join(parts)


def _row(pane: str, label: str, value: str) -> str:
    return (
        f'<div class="vm-card-row"><span class="vm-tag vm-tag-{pane}">{html.escape(label)}</span>'
        f'<span class="vm-card-value">{value}</span></div>'
    )


def _raw(v: Any) -> str:
    return "" if v is None else html.escape(repr(v))
