"""Metric cards follow the frame: the figure up to now agrees with the recording's cumulative
series (and the cumulative charts drawn from it); the whole-run figure stands beside it."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from engine.stats import interval
from webapp.runs import RunPair
from webapp.seeds import SeedStats
from webapp.views.cards import (
    LOST_TIME,
    SLOWDOWN,
    STALL,
    cards_html,
    interval_text,
    metric_values,
    metrics,
    over_seeds_text,
    same_on_every_seed,
    seeds_html,
    values_at,
    within,
)
from webapp.views.cards import _diff as _diff_text


def _frames(runs: RunPair) -> list[int]:
    return [0, runs.n_frames // 2, runs.n_frames - 1]


def _card_attr(html: str, metric: str, attr: str) -> str:
    m = re.search(rf'data-metric="{metric}"[^>]*\b{attr}="([^"]*)"', html)
    assert m is not None, (metric, attr)
    return m.group(1)


def test_cards_agree_with_the_recorded_cumulative_counters(small_runs):
    """At frame 0, mid-run and the last frame, faults and lost time (stall + gating wait) up
    to now are the recording's own cumulative host totals at that frame."""
    for f in _frames(small_runs):
        now = values_at(small_runs, f)
        for pane, s in enumerate((small_runs.a, small_runs.b)):
            rec = s.result.recording
            assert now["major_faults"][pane] == rec.counter("major_faults")[f].sum()
            lost_ns = rec.counter("stall_ns")[f].sum() + rec.counter("gating_delay_ns")[f].sum()
            assert now["lost_time_ms"][pane] == pytest.approx(lost_ns / 1e6)


def test_frame_zero_reads_what_the_cumulative_chart_reads(app):
    """At frame 0, mid-run and the last frame a card's figure is the last point of the
    cumulative chart on display (frame 0: nothing yet), not the whole-run total."""
    state, controller, dashboard = app
    runs = state.runs
    for f in _frames(runs):
        controller.goto(f)
        html = dashboard.cards.object
        for pane in ("A", "B"):
            chart = dashboard.cumulative.sources[pane].data
            now_faults = float(_card_attr(html, "major_faults", f"data-{pane.lower()}-now"))
            now_lost = float(_card_attr(html, "lost_time_ms", f"data-{pane.lower()}-now"))
            assert now_faults == chart["faults"][-1]
            # lost time is the chart's stall plus the gating wait (none under demand paging)
            assert now_lost >= chart["stall"][-1] - 1e-6
            if runs.policy_a["name"] == "demand" and pane == "A":
                assert now_lost == pytest.approx(chart["stall"][-1])
        assert f'data-frame="{f}"' in html
    controller.goto(0)
    assert float(_card_attr(dashboard.cards.object, "major_faults", "data-a-now")) == 0.0
    assert float(_card_attr(dashboard.cards.object, "major_faults", "data-a")) > 0


def test_the_last_frame_reaches_the_whole_run_figures(small_runs):
    """At the last frame every figure that follows the frame equals the run's summary."""
    now = values_at(small_runs, small_runs.n_frames - 1)
    whole = metric_values(small_runs)
    assert now.keys() == whole.keys()
    for key, (a, b) in whole.items():
        for x, y in zip(now[key], (a, b), strict=True):
            assert (x is None) == (y is None), key
            if x is not None:
                assert x == pytest.approx(y, rel=1e-5, abs=1e-9), key


def test_cards_say_which_figure_is_the_whole_run(small_runs):
    """Each following card reads its figure up to now and, labelled, the whole run's; the
    header names the time on display."""
    mid = small_runs.n_frames // 2
    html = cards_html(small_runs, ("A", "B"), mid)
    t_ms = small_runs.time_ms(mid)
    assert f"figures at {t_ms:,.0f} ms" in html
    whole = metric_values(small_runs)["major_faults"][0]
    assert f"whole run: {whole:,.0f}" in html
    now = values_at(small_runs, mid)["major_faults"][0]
    assert now is not None and now < whole  # the small scenario faults after mid-run too
    assert html.count("whole run:") >= 2 * (len(metrics(small_runs)) - 1)


def test_slowdown_is_stated_for_the_whole_run_only(small_runs):
    """Slowdown has no per-frame baseline: its card says 'whole run' and gives no figure up
    to an earlier frame."""
    assert SLOWDOWN.label.endswith("(whole run)")
    assert values_at(small_runs, 0)["slowdown"] == (None, None)
    last = values_at(small_runs, small_runs.n_frames - 1)["slowdown"]
    assert last == metric_values(small_runs)["slowdown"]


def test_coverage_up_to_now_uses_demand_pagings_faults_up_to_now(small_runs):
    """Mid-run coverage compares faults up to now with demand paging's up to the same time."""
    assert small_runs.policy_a["name"] == "demand"
    mid = small_runs.n_frames // 2
    demand = small_runs.a.counter("major_faults")[mid].sum()
    b = small_runs.b.counter("major_faults")[mid].sum()
    assert values_at(small_runs, mid)["coverage"] == pytest.approx((0.0, 1 - b / demand))


def _with_summary(runs: RunPair, **extra: float) -> RunPair:
    def series(s):
        result = dataclasses.replace(s.result, summary={**s.result.summary, **extra})
        return dataclasses.replace(s, result=result)

    return dataclasses.replace(runs, a=series(runs.a), b=series(runs.b))


def test_time_card_is_stall_without_lost_time(small_runs):
    """Runs that report no lost time (recorded before it was measured) get the stall card."""

    def series(s):
        summary = {k: v for k, v in s.result.summary.items() if not k.startswith("lost_time")}
        return dataclasses.replace(s, result=dataclasses.replace(s.result, summary=summary))

    runs = dataclasses.replace(small_runs, a=series(small_runs.a), b=series(small_runs.b))
    keys = [m.key for m in metrics(runs)]
    assert STALL.key in keys and LOST_TIME.key not in keys
    assert LOST_TIME in metrics(small_runs)  # the engine's runs always report it


def test_time_card_is_lost_time_when_the_summary_has_it(small_runs):
    """With lost_time_ms in the summary the time card is lost time: stall plus gating wait
    up to now, the summary's figure for the whole run."""
    runs = _with_summary(small_runs, lost_time_ms=123.5)
    assert LOST_TIME in metrics(runs) and STALL not in metrics(runs)
    assert metric_values(runs)["lost_time_ms"] == (123.5, 123.5)
    mid = runs.n_frames // 2
    s = runs.b
    expected = (s.counter("stall_ns")[mid].sum() + s.counter("gating_delay_ns")[mid].sum()) / 1e6
    assert values_at(runs, mid)["lost_time_ms"][1] == pytest.approx(expected)
    assert 'data-metric="lost_time_ms"' in cards_html(runs, ("A", "B"), mid)


def test_time_card_follows_a_recorded_lost_time_counter(small_runs):
    """A lost_time_ns counter in the recording is what the card reads up to now."""

    def series(s, scale):
        lost = (np.arange(s.n_frames, dtype=np.int64) * scale)[:, None, None]
        lost = np.repeat(lost, s.counters.shape[2], axis=2)
        return dataclasses.replace(
            s,
            counters=np.concatenate([s.counters, lost], axis=1),
            counter_names=(*s.counter_names, "lost_time_ns"),
        )

    runs = dataclasses.replace(small_runs, a=series(small_runs.a, 1000), b=series(small_runs.b, 0))
    n_vms = len(runs.vm_names)
    assert LOST_TIME in metrics(runs)
    assert values_at(runs, 3)["lost_time_ms"] == pytest.approx((3 * 1000 * n_vms / 1e6, 0.0))


def test_seeds_that_agree_read_as_one_figure_not_a_zero_width_interval():
    """Over seeds that gave the same figure (a replayed trace on a fixed schedule; demand
    paging's coverage, always 0) a card says so, where '218 [218, 218]' reads like a measured
    spread; figures that differ keep their mean and 95 % interval."""
    same = interval([218.0] * 5)
    assert over_seeds_text(same, _count, 5, "mean over") == "the same on all 5 seeds: 218"
    tenths = interval([0.1] * 3)  # (a mean that rounding may move by an ulp)
    assert same_on_every_seed(tenths)
    assert over_seeds_text(interval([-163.0] * 5), _diff, 5, "over") == (
        "the same on all 5 seeds: −163"
    )
    spread = interval([200.0, 218.0, 230.0])
    assert not same_on_every_seed(spread)
    assert over_seeds_text(spread, _count, 3, "mean over") == (
        f"mean over 3 seeds: {interval_text(spread, _count)}"
    )
    assert "[" in interval_text(spread, _count)
    assert not same_on_every_seed(interval([218.0]))  # one seed: no interval to speak of
    assert over_seeds_text(None, _count, 5, "over") == "over 5 seeds: –"
    sides = {"a": same, "b": interval([55.0] * 3), "delta": interval([-163.0] * 3)}
    stats = SeedStats((1, 2, 3), {"major_faults": sides}, {})
    faults = next(m for m in metrics(None) if m.key == "major_faults")
    block = seeds_html(faults, stats, ("demand", "predictive"))
    assert "demand</span> the same on all 3 seeds: 218<" in block
    assert 'vm-better" data-mean="-163.0"' in block  # fewer faults on every seed: B is better
    assert "B − A, the same on all 3 seeds: −163<" in block


def _count(v: float) -> str:
    return f"{v:,.0f}"


def _diff(v: float) -> str:
    return f"{v:+,.0f}"


def test_a_sides_interval_stays_in_the_range_its_figure_can_take():
    """A share over seeds reads at most 100 % (scan_vs_lru's accuracy was '99.6 % [98.9 %,
    100.4 %]'), a count or a time at least 0; coverage, which goes below 0 where a policy
    faults more than demand paging, keeps its lower end. The mean stays as measured."""
    by_key = {m.key: m for m in (*metrics(None), LOST_TIME)}
    accuracy = interval([0.989, 1.0, 1.0, 1.0, 0.991])
    assert accuracy.hi > 1.0  # (the t-interval itself runs past 100 %)
    shown = within(accuracy, by_key["prefetch_accuracy"])
    assert shown.hi == 1.0 and shown.lo == accuracy.lo and shown.mean == accuracy.mean
    faults = interval([0.0, 0.0, 6.0])
    assert faults.lo < 0 and within(faults, by_key["major_faults"]).lo == 0.0
    lost = interval([0.0, 0.1, 9.0])
    assert within(lost, by_key["lost_time_ms"]).lo == 0.0
    coverage = interval([-0.3, 0.2, 0.99])
    assert within(coverage, by_key["coverage"]).lo == coverage.lo < 0
    sides = {"a": accuracy, "b": accuracy, "delta": interval([0.0, 0.01, -0.01])}
    stats = SeedStats((1, 2, 3, 4, 5), {"prefetch_accuracy": sides}, {})
    block = seeds_html(by_key["prefetch_accuracy"], stats, ("demand", "predictive"))
    assert "100.0%]" in block and "100.4%" not in block


def test_cards_never_read_minus_zero():
    """An interval on a card reads zero where its end rounds to it, and a whole-run slowdown
    interval stays at or above 0 (it is useful work with unlimited memory over useful work)."""
    iv = interval([0.0, 0.0, 0.0, 0.0, 1.0])
    assert iv.lo is not None and -0.5 < iv.lo < 0
    assert interval_text(iv, lambda v: f"{v:+,.0f}") == "+0 [+0, +1]"
    slow = interval([0.01, 0.02, 3.0])
    assert slow.lo is not None and slow.lo < 0
    assert within(slow, SLOWDOWN).lo == 0.0
    # A difference that shows as none is neither better nor worse.
    assert _diff_text(1.0004, 1.0, SLOWDOWN) == ("+0.000×", "same")
    assert _diff_text(1.0, 1.0006, SLOWDOWN) == ("+0.001×", "worse")
    assert _diff_text(1.0006, 1.0, SLOWDOWN) == ("−0.001×", "better")  # the intervals' minus
