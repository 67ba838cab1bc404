"""Metric cards: A, B and the difference B − A for the figures a user reads first.

Each card follows the frame on display: its main figure counts up to that frame's simulated
time (from the recording's cumulative counters, the same series the cumulative charts draw),
and the whole-run figure stands beside it, labelled, so frame 0 never reads like the end.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.figure_text import shown
from engine.stats import Interval
from webapp.runs import RunPair, RunSeries, coverage, whole_figure
from webapp.seeds import SeedStats


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    lower_is_better: bool
    fmt: Callable[[float], str]
    diff_fmt: Callable[[float], str]
    follows_frame: bool = True  # False: only a whole-run figure exists
    # The range a run's figure cannot leave (None: unbounded on that side). A side's 95 %
    # interval over seeds is shown cut to it: the mean lies inside the range, so the cut
    # interval holds it as often as the whole one, and a share never reads "100.4 %".
    lowest: float | None = None
    highest: float | None = None


def _count(v: float) -> str:
    return f"{v:,.0f}"


def _pct(v: float) -> str:
    return f"{v:.1%}"


def _pp(v: float) -> str:
    return f"{v * 100:+.1f} pp"


def _times(v: float) -> str:
    return f"{v:.3f}×"


def _ms(v: float) -> str:
    return f"{v:,.1f} ms"


FAULTS = Metric("major_faults", "major faults", True, _count, lambda d: f"{d:+,.0f}", lowest=0.0)
# Lost time is stall plus the wait at dispatch that gating adds (DESIGN.md §2); a run that
# does not report it gets the stall card instead.
LOST_TIME = Metric(
    "lost_time_ms",
    "lost time (stall + gating wait)",
    True,
    _ms,
    lambda d: f"{d:+,.1f} ms",
    lowest=0.0,
)
STALL = Metric("stall_ms", "stall", True, _ms, lambda d: f"{d:+,.1f} ms", lowest=0.0)
# Prefetched pages used ÷ issued. (Coverage, faults removed ÷ demand paging's faults, goes
# below 0 where a policy faults more than demand paging: bounded above only.)
ACCURACY = Metric(
    "prefetch_accuracy", "prefetch accuracy", False, _pct, _pp, lowest=0.0, highest=1.0
)
COVERAGE = Metric("coverage", "prefetch coverage", False, _pct, _pp, highest=1.0)
# Slowdown's denominator (useful work with unlimited memory) is known for the whole run only.
SLOWDOWN = Metric(
    "slowdown",
    "slowdown (whole run)",
    True,
    _times,
    lambda d: f"{d:+.3f}×",
    follows_frame=False,
    lowest=0.0,
)
METRICS = (FAULTS, STALL, ACCURACY, COVERAGE, SLOWDOWN)  # without lost time in the runs


def has_lost_time(runs: RunPair) -> bool:
    """Whether both runs report lost time (in their summary or as a recorded counter)."""
    return all(
        "lost_time_ms" in s.result.summary
        or "lost_time_ns" in s.result.summary
        or "lost_time_ns" in s.counter_names
        for s in (runs.a, runs.b)
    )


def metrics(runs: RunPair | None) -> tuple[Metric, ...]:
    """The cards of these runs: the time card is lost time where the runs report it."""
    if runs is not None and has_lost_time(runs):
        return (FAULTS, LOST_TIME, ACCURACY, COVERAGE, SLOWDOWN)
    return METRICS


Values = dict[str, tuple[float | None, float | None]]


def metric_values(runs: RunPair) -> Values:
    """Whole-run (A, B) of every card; None where a figure does not apply (no prefetches,
    no baseline)."""
    out: Values = {}
    for m in metrics(runs):
        out[m.key] = (_whole(runs, runs.a, m.key), _whole(runs, runs.b, m.key))
    return out


def values_at(runs: RunPair, frame: int) -> Values:
    """(A, B) of every card counted up to `frame`'s simulated time, from the recorded
    cumulative counters; None where a figure does not apply yet (or, for a whole-run-only
    figure, before the last frame)."""
    out: Values = {}
    for m in metrics(runs):
        out[m.key] = (_at(runs, runs.a, m, frame), _at(runs, runs.b, m, frame))
    return out


def _whole(runs: RunPair, s: RunSeries, key: str) -> float | None:
    return whole_figure(s.result.summary, runs.reference_major_faults, key)


def _total(s: RunSeries, name: str, i: int) -> float:
    """Host total of a cumulative counter at frame i."""
    return float(s.counter(name)[i].sum())


def _at(runs: RunPair, s: RunSeries, m: Metric, frame: int) -> float | None:
    i = min(max(int(frame), 0), s.n_frames - 1)
    if not m.follows_frame:
        return _whole(runs, s, m.key) if i == s.n_frames - 1 else None
    if m.key == "major_faults":
        return _total(s, "major_faults", i)
    if m.key == "lost_time_ms":
        if "lost_time_ns" in s.counter_names:
            return _total(s, "lost_time_ns", i) / 1e6
        return (_total(s, "stall_ns", i) + _total(s, "gating_delay_ns", i)) / 1e6
    if m.key == "stall_ms":
        return _total(s, "stall_ns", i) / 1e6
    if m.key == "prefetch_accuracy":
        issued = _total(s, "prefetch_issued", i)
        return _total(s, "prefetch_used", i) / issued if issued else None
    if m.key == "coverage":
        ref = runs.reference_faults_at(int(s.times_ns[i]))
        return coverage(int(_total(s, "major_faults", i)), ref)
    raise KeyError(m.key)


def when_text(t_ms: float) -> str:
    """A simulated time as a card reads it: '420 ms', '1.42 s'."""
    return f"{t_ms:,.0f} ms" if t_ms < 1000 else f"{t_ms / 1000:,.2f} s"


def read_as(value: float, fmt: Callable[[float], str]) -> str:
    """value in fmt as a reader writes it: no sign before a zero (engine.figure_text.shown),
    and a minus sign, not a hyphen."""
    return shown(value, fmt).replace("-", "−")


def _cell(value: float | None, fmt: Callable[[float], str]) -> str:
    return "–" if value is None else html.escape(read_as(float(value), fmt))


def _diff(a: float | None, b: float | None, m: Metric) -> tuple[str, str]:
    """(text, class) of B − A: better, worse or the same for this metric."""
    if a is None or b is None:
        return "–", "same"
    d = float(b) - float(a)
    better = d < 0 if m.lower_is_better else d > 0
    text = read_as(d, m.diff_fmt)
    # (a difference that shows as none reads the same, whichever side it leans to)
    same = abs(d) < 1e-12 or text == read_as(0.0, m.diff_fmt)
    cls = "same" if same else ("better" if better else "worse")
    return html.escape(text), cls


def cards_html(
    runs: RunPair | None,
    labels: tuple[str, str] = ("A", "B"),
    frame: int | None = None,
    seeds: SeedStats | None = None,
) -> str:
    """The cards as HTML at `frame` (the last frame when None): the figure up to that frame's
    time, and beside it the whole run's; with two seeds or more in `seeds`, the mean and 95 %
    interval over them of each side and of B − A (paired by seed)."""
    if runs is None:
        return '<div class="vm-cards vm-empty">Simulating…</div>'
    last = runs.n_frames - 1
    frame = last if frame is None else min(max(int(frame), 0), last)
    now_ms, end_ms = runs.time_ms(frame), runs.time_ms(last)
    now, whole = values_at(runs, frame), metric_values(runs)
    when = html.escape(when_text(now_ms))
    over = seeds is not None and seeds.n >= 2
    seed = runs.scenario_dict.get("seed")
    seed_text = f"seed {seed} on display: " if over else ""
    seeds_text = f"; below: mean and 95 % interval over {seeds.n} seeds" if over and seeds else ""
    parts = [
        f'<div class="vm-cards-when" data-frame="{frame}">{html.escape(seed_text)}figures at'
        f" {when} of simulated time (frame {frame} of {last}); in grey beside each: the whole"
        f" run ({html.escape(when_text(end_ms))}){seeds_text}</div>",
        '<div class="vm-cards">',
    ]
    for m in metrics(runs):
        (a, b), (wa, wb) = now[m.key], whole[m.key]
        rows = "".join(
            _row(pane, label, _cell(v, m.fmt), _cell(w, m.fmt), when, m.follows_frame)
            for pane, label, v, w in (("a", labels[0], a, wa), ("b", labels[1], b, wb))
        )
        whole_diff, whole_cls = _diff(wa, wb, m)
        if m.follows_frame:
            diff, cls = _diff(a, b, m)
            diff += f'<span class="vm-card-whole"> · whole run: {whole_diff}</span>'
        else:
            diff, cls = whole_diff, whole_cls
        over_seeds = seeds_html(m, seeds, labels) if over and seeds else ""
        parts.append(
            f'<div class="vm-card" data-metric="{m.key}" data-a="{_raw(wa)}" data-b="{_raw(wb)}"'
            f' data-a-now="{_raw(a)}" data-b-now="{_raw(b)}">'
            f'<div class="vm-card-label">{html.escape(m.label)}</div>{rows}'
            f'<div class="vm-card-diff vm-{cls}">B − A {diff}</div>{over_seeds}'
            "</div>"
        )
    parts.append("</div>")
    return "".join(parts)


def interval_text(iv: Interval | None, fmt: Callable[[float], str]) -> str:
    """'1,234 [1,100, 1,350]': a mean and its 95 % interval, or the mean alone from one
    seed; minus signs as a reader writes them."""
    if iv is None:
        return "–"
    text = read_as(iv.mean, fmt)
    if iv.lo is not None and iv.hi is not None:
        text += f" [{read_as(iv.lo, fmt)}, {read_as(iv.hi, fmt)}]"
    return text


def within(iv: Interval | None, m: Metric) -> Interval | None:
    """A side's interval cut to the range the metric's figure can take (Metric.lowest and
    highest); the mean and half-width stay as measured."""
    if iv is None or iv.lo is None or iv.hi is None:
        return iv
    lo = iv.lo if m.lowest is None else max(iv.lo, m.lowest)
    hi = iv.hi if m.highest is None else min(iv.hi, m.highest)
    return Interval(iv.n, iv.mean, iv.half_width, lo, hi)


def same_on_every_seed(iv: Interval | None) -> bool:
    """Whether every seed gave the same figure (no spread, up to the rounding of the mean):
    a scenario with nothing random in it, such as traces replayed on a fixed schedule, or a
    figure that is always 0 for a policy (demand paging's prefetch coverage)."""
    if iv is None or iv.lo is None or iv.hi is None:
        return False
    return iv.hi - iv.lo <= 1e-9 * max(1.0, abs(iv.mean))


def over_seeds_text(iv: Interval | None, fmt: Callable[[float], str], n: int, lead: str) -> str:
    """'mean over 5 seeds: 1,234 [1,100, 1,350]', or 'the same on all 5 seeds: 1,234' where
    the seeds did not differ (an interval [x, x] reads like a measured spread of zero width)."""
    if iv is not None and same_on_every_seed(iv):
        alone = Interval(iv.n, iv.mean, None, None, None)  # (the mean, as one seed's reads)
        return f"the same on all {n} seeds: {interval_text(alone, fmt)}"
    return f"{lead} {n} seeds: {interval_text(iv, fmt)}"


def seeds_html(m: Metric, seeds: SeedStats, labels: tuple[str, str]) -> str:
    """A card's lines over seeds: each side's mean [95 % interval], and B − A's, paired."""
    sides = seeds.metrics.get(m.key, {})
    rows = "".join(
        f'<div class="vm-card-seeds" data-pane="{pane}" data-mean="{_raw(_mean(sides, side))}">'
        f'<span class="vm-tag vm-tag-{pane}">{html.escape(label)}</span> '
        f"{html.escape(over_seeds_text(within(sides.get(side), m), m.fmt, seeds.n, 'mean over'))}"
        "</div>"
        for pane, side, label in (("a", "a", labels[0]), ("b", "b", labels[1]))
    )
    delta = sides.get("delta")
    cls = "same"
    # Better or worse only when the interval leaves out 0: a difference the seeds show.
    if (
        delta is not None
        and delta.lo is not None
        and delta.hi is not None
        and not (delta.lo <= 0 <= delta.hi)
    ):
        cls = "better" if (delta.hi < 0) == m.lower_is_better else "worse"
    lo = "" if delta is None else _raw(delta.lo)
    hi = "" if delta is None else _raw(delta.hi)
    return (
        f'<div class="vm-card-seeds-block">{rows}'
        f'<div class="vm-card-seeds-diff vm-{cls}" data-mean="{_raw(_mean(sides, "delta"))}"'
        f' data-lo="{lo}" data-hi="{hi}">B − A{"," if same_on_every_seed(delta) else ""} '
        f"{html.escape(over_seeds_text(delta, m.diff_fmt, seeds.n, 'over'))}</div></div>"
    )


def _mean(sides: dict[str, Interval], side: str) -> float | None:
    iv = sides.get(side)
    return None if iv is None else iv.mean


def _row(pane: str, label: str, now: str, whole: str, when: str, follows: bool) -> str:
    value = (
        f'<span class="vm-card-value" title="up to {when}">{now}</span>'
        f'<span class="vm-card-whole">whole run: {whole}</span>'
        if follows
        else f'<span class="vm-card-value" title="the whole run">{whole}</span>'
    )
    return (
        f'<div class="vm-card-row"><span class="vm-tag vm-tag-{pane}">{html.escape(label)}</span>'
        f"{value}</div>"
    )


def _raw(v: Any) -> str:
    return "" if v is None else html.escape(repr(v))
