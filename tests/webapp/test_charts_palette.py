"""Small things a reader sees: distinct VM colours for many VMs, a log axis for per-VM slowdown,
and transport labels that fit."""

from __future__ import annotations

import itertools

from bokeh.models import LogScale

from webapp.views.charts import SlowdownView
from webapp.views.dashboard import legend_html
from webapp.views.palette import STATE_COLOURS, VM_COLOURS, rgb_distance, vm_colour


def test_sixty_four_vms_get_sixty_four_distinct_colours():
    """No two of 64 VMs share a colour, and none is nearly the same as another."""
    colours = [vm_colour(k) for k in range(64)]
    assert len(set(colours)) == 64
    assert min(rgb_distance(a, b) for a, b in itertools.combinations(colours, 2)) >= 20


def test_every_vm_a_scenario_may_hold_has_its_own_colour():
    """Up to the 256 VMs a scenario may hold, colours never repeat; the first nine stay the
    colour-blind-safe muted scheme."""
    colours = [vm_colour(k) for k in range(256)]
    assert len(set(colours)) == 256
    assert colours[: len(VM_COLOURS)] == list(VM_COLOURS)


def test_the_legend_shows_each_vm_in_its_own_colour():
    """The legend's VM keys carry the same colours the views draw."""
    names = [f"vm{k}" for k in range(64)]
    text = legend_html(names)
    assert all(f"background:{vm_colour(k)}" in text for k in range(64))
    assert not set(STATE_COLOURS.values()) & {vm_colour(k) for k in range(64)}


def test_per_vm_slowdown_is_on_a_log_axis(small_runs):
    """The slowdown chart uses a log axis with bars from 1, so one VM at 200x does not flatten
    the others; its range covers every bar."""
    view = SlowdownView()
    assert isinstance(view.figure.y_scale, LogScale)
    assert view.figure.renderers[0].glyph.bottom == 1.0
    view.set_runs(small_runs)
    ys = view.source.data["slowdown"]
    assert ys and all(y > 0 for y in ys)
    assert view.y_range.start < min(1.0, *ys) and view.y_range.end > max(ys)
    assert "log" in view.figure.title.text
