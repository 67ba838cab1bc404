"""View logic without a browser: pictures, what a frame sends, cards, log, schema widgets."""

from __future__ import annotations

import sys

import numpy as np
import panel as pn
import pytest
from bokeh.document import Document
from bokeh.document.events import (
    ColumnDataChangedEvent,
    ColumnsPatchedEvent,
    ColumnsStreamedEvent,
    ModelChangedEvent,
)

from engine.scenario import Host, Workload
from webapp.runs import DISPLAY_STATES
from webapp.views.cards import cards_html, metric_values, metrics
from webapp.views.dashboard import Dashboard
from webapp.views.eventlog import eventlog_html
from webapp.views.heatmap import STRIP_ROWS, resample, strip_image
from webapp.views.sidebar import SchemaForm, widget_spec

RESIDENT, SWAPPED = DISPLAY_STATES.index("resident"), DISPLAY_STATES.index("swapped")


def test_strip_image_stacks_state_fractions():
    """A bin half resident, half swapped is drawn half in each colour."""
    counts = np.zeros((2, len(DISPLAY_STATES)))
    counts[0, RESIDENT] = counts[0, SWAPPED] = 50
    counts[1, SWAPPED] = 7
    img = strip_image(counts)
    assert img.shape == (STRIP_ROWS, 2)
    assert (img[:, 0] == RESIDENT).sum() == STRIP_ROWS // 2
    assert (img[:, 0] == SWAPPED).sum() == STRIP_ROWS // 2
    assert (img[:, 1] == SWAPPED).all()


def test_resample_sums_or_repeats():
    """Down-sampling sums neighbouring bins (pages kept); up-sampling repeats bins."""
    counts = np.arange(12).reshape(6, 2)
    down, _ = resample(counts, 3)
    assert down.sum() == counts.sum() and down.shape == (3, 2)
    _, first = resample(counts[:2], 4)
    assert first.tolist() == [0, 0, 1, 1]


def _document(d: Dashboard) -> Document:
    doc = Document()
    for fig in (
        *[v.figure for v in d.heatmaps.values()],
        *[v.figure for v in d.timelines.values()],
        d.cumulative.faults,
        d.cumulative.stall,
        d.slowdown.figure,
    ):
        doc.add_root(fig)
    return doc


def test_playing_forward_sends_patches_and_streams_only(small_runs):
    """Frame after frame, big sources are streamed or patched, never replaced; the heatmap
    image is patched as one band of rows; the frame clock changes last."""
    d = Dashboard()
    doc = _document(d)
    d.set_runs(small_runs, ("A", "B"))
    events: list = []
    doc.on_change(lambda e: events.append(e))
    planned = {id(v.sources["planned"]) for v in d.timelines.values()}
    for i in range(1, small_runs.n_frames):
        events.clear()
        d.show(i, playing=True)
        replaced = [
            e
            for e in events
            if isinstance(e, ColumnDataChangedEvent) and id(e.model) not in planned
        ]
        assert replaced == [], f"frame {i} replaced {[e.model for e in replaced]}"
        for e in events:
            if isinstance(e, ColumnsPatchedEvent) and "image" in e.patches:
                (index, *_), _values = e.patches["image"][0]
                assert index == 0  # a band of the one image, not the whole image
        assert isinstance(events[-1], ModelChangedEvent) and events[-1].attr == "seq"
    kinds = {type(e) for e in events}
    assert ColumnsStreamedEvent in kinds or ColumnsPatchedEvent in kinds


def test_scrubbing_back_matches_a_fresh_show(small_runs):
    """Going back to a frame gives the same data as showing that frame from scratch."""
    d1, d2 = Dashboard(), Dashboard()
    d1.set_runs(small_runs, ("A", "B"))
    d2.set_runs(small_runs, ("A", "B"))
    for i in range(small_runs.n_frames):
        d1.show(i, playing=True)
    d1.show(3)
    d2.show(3)
    for p in ("A", "B"):
        for name in ("past", "planned"):
            a = d1.timelines[p].sources[name].data
            b = d2.timelines[p].sources[name].data
            assert {k: list(v) for k, v in a.items()} == {k: list(v) for k, v in b.items()}
        assert np.array_equal(
            d1.heatmaps[p].source.data["image"][0], d2.heatmaps[p].source.data["image"][0]
        )


def test_cards_show_b_minus_a_with_the_right_sign(small_runs):
    """Every metric has a card; fewer faults in B reads as better, more as worse."""
    html = cards_html(small_runs, ("demand", "other"))
    values = metric_values(small_runs)
    for m in metrics(small_runs):
        assert f'data-metric="{m.key}"' in html
    a, b = values["major_faults"]
    word = "vm-better" if b < a else ("vm-worse" if b > a else "vm-same")
    chunk = html.split('data-metric="major_faults"')[1].split("data-metric=")[0]
    assert word in chunk
    assert cards_html(None).count("Simulating") == 1


def test_event_log_marks_the_current_frame(small_runs):
    """The log names the VM and frame; events of the current frame are highlighted."""
    s = small_runs.a
    k = int(np.argmax(s.counter("major_faults")[-1]))
    j = int(np.argmax(np.diff(s.counter("major_faults")[:, k]))) + 1
    html = eventlog_html(small_runs, k, j, ("A", "B"))
    assert small_runs.vm_names[k] in html and f"frame {j}" in html
    assert 'class="vm-ev-now"' in html


@pytest.mark.parametrize(
    ("p", "widget"),
    [
        (Workload.param.kind, pn.widgets.Select),
        (Host.param.pcpus, pn.widgets.IntInput),
        (Host.param.low_watermark_pct, pn.widgets.FloatInput),
        (Workload.param.scatter, pn.widgets.Checkbox),
    ],
)
def test_widgets_follow_the_schema_types(p, widget):
    """The widget type comes from the parameter type; no bounds go to the browser (it would
    clamp silently; the server refuses in words)."""
    spec = widget_spec(p)
    assert spec["type"] is widget
    assert "start" not in spec and "end" not in spec


def test_every_schema_field_gets_a_widget():
    """A section's form has one widget per declared field (nested sections excluded), showing
    the field's value."""
    host = Host()
    form = SchemaForm(host)
    assert set(form.widgets) == set(host.fields())
    assert all(form.widgets[n].value == getattr(host, n) for n in host.fields())


def test_the_sweep_tab_is_optional(monkeypatch):
    """Without webapp.sweep_view the layout has no Sweep tab (and no error)."""
    from webapp import layout

    monkeypatch.setitem(sys.modules, "webapp.sweep_view", None)
    assert layout.sweep_view() is None


def test_create_app_builds_the_whole_page(monkeypatch):
    """The served entry point builds state, controller, sidebar, transport and layout."""
    from webapp import app as app_module
    from webapp.controller import Controller

    monkeypatch.setattr(Controller, "request_run", lambda self, delay=0.0: None)
    template = app_module.create_app()
    assert isinstance(template, pn.template.BootstrapTemplate)
    assert template.main and template.sidebar


def test_a_pages_editors_are_built_with_background_work_paused_and_one_walk():
    """While a served page's editors are built, background work is held (a simulation
    stepping beside them took half the loop's time) and the page's models are frozen (walked
    once, at the end); both are let go afterwards, also when the build fails."""
    from webapp import app as app_module
    from webapp import priority

    doc = Document()
    seen: list[tuple[bool, int]] = []

    def populate() -> None:
        seen.append((priority.held(), doc.models._freeze_count))

    assert not priority.held()
    app_module.build_editors(doc, populate)
    assert seen == [(True, 1)]
    assert not priority.held() and doc.models._freeze_count == 0

    def failing() -> None:
        raise RuntimeError("an editor failed")

    with pytest.raises(RuntimeError, match="an editor failed"):
        app_module.build_editors(doc, failing)
    assert not priority.held() and doc.models._freeze_count == 0
