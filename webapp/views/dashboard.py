"""The main area's views, A next to B, and the one place a frame is pushed to the browser.

`set_runs` replaces everything for a new pair of runs; `show(frame)` sends the frame's changes
in one held batch that ends with the frame clock, so the browser's paint acknowledgement
covers all of it. During playback the secondary views (cumulative charts, metric cards,
event log, hover counts) are refreshed a few times a second rather than every frame: the
browser paints the primary views (heatmaps, timelines) at full rate.
"""

from __future__ import annotations

import contextlib
import html
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import panel as pn
from bokeh.models import Range1d

from webapp.runs import DISPLAY_STATES, RunPair
from webapp.seeds import SeedStats
from webapp.views.cards import cards_html
from webapp.views.charts import CumulativeView, SlowdownView
from webapp.views.clock import make_clock
from webapp.views.eventlog import eventlog_html
from webapp.views.heatmap import ResidencyView
from webapp.views.palette import DEVICE_COLOURS, STATE_COLOURS, STATE_MEANINGS, vm_colour
from webapp.views.story import story_html
from webapp.views.timeline import TimelineView
from webapp.wire import corked

PANES = ("A", "B")
SECONDARY_PERIOD_S = 0.25
# ... and at most every this many frames: a session paced to a few frames a second by the
# frame governor (many sessions playing) would otherwise send them with every frame.
SECONDARY_EVERY_FRAMES = 4


class FrameHTML(pn.pane.HTML):
    """An HTML pane rewritten during playback (cards, event log, frame label): a new `object`
    sends its text, not its stylesheets again. Panel's HTML pane re-sends every property on
    each new object, and its stylesheets are rebuilt as new models when the page's cache of
    them does not hold the ones the pane was made with (its first rewrite on a served page):
    a change of model references, on which Bokeh recomputes the page's whole graph of models
    (~50-150 ms on a busy two-core machine, holding every session's frames). Stylesheets set
    on the pane itself still go through Panel's usual path (`stylesheets` is a parameter)."""

    def _update(self, ref: str, model: Any) -> None:
        props = self._get_properties(model.document)
        props.pop("stylesheets", None)
        model.update(**props)


HEATMAP_KEY = (
    "each VM is a strip along its guest memory (MiB, left to right); each column of a strip"
    " stacks the share of its pages in each state, bottom to top in the order below"
)


def legend_html(vm_names: list[str]) -> str:
    """Colour keys: how the heatmap encodes page states, the VMs, and the device lane."""
    states = "".join(
        f'<span class="vm-key" title="{html.escape(STATE_MEANINGS[s])}">'
        f'<i style="background:{STATE_COLOURS[s]}"></i>{html.escape(s)}</span>'
        for s in DISPLAY_STATES
    )
    meanings = "".join(
        f'<li><i style="background:{STATE_COLOURS[s]}"></i><b>{html.escape(s)}</b>: '
        f"{html.escape(STATE_MEANINGS[s])}</li>"
        for s in DISPLAY_STATES
    )
    how = (
        '<details class="vm-legend-how"><summary>how to read the heatmaps</summary>'
        f"<p>{html.escape(HEATMAP_KEY)}.</p><ul>{meanings}</ul></details>"
    )
    vms = "".join(
        f'<span class="vm-key"><i style="background:{vm_colour(k)}"></i>{html.escape(n)}</span>'
        for k, n in enumerate(vm_names)
    )
    dev = "".join(
        f'<span class="vm-key"><i style="background:{DEVICE_COLOURS[k]}"></i>{label}</span>'
        for k, label in (
            ("demand", "demand reads"),
            ("prefetch", "prefetch reads"),
            ("write", "writes"),
        )
    ) + (
        '<span class="vm-key"><i class="vm-line"></i>queue depth</span>'
        '<span class="vm-key"><i class="vm-ghost"></i>planned slice</span>'
        '<span class="vm-key"><i class="vm-stall"></i>stalled share</span>'
        '<span class="vm-key"><i class="vm-hatch"></i>prefetch window</span>'
    )
    return (
        '<div class="vm-legend">'
        f'<div class="vm-legend-pages"><span class="vm-legend-title">pages</span>{states}</div>'
        f"<div>{how}</div>"
        f'<div><span class="vm-legend-title">VMs</span>{vms}</div>'
        f'<div><span class="vm-legend-title">timeline</span>{dev}</div>'
        "</div>"
    )


class Dashboard:
    """Owns the Bokeh models of the main area; knows nothing about the controller."""

    def __init__(self, doc: Any = None):
        self.doc = doc
        self.x_range = Range1d(0, 1)  # the one time axis of both timelines
        self.heatmaps = {p: ResidencyView(p) for p in PANES}
        self.timelines = {p: TimelineView(p, self.x_range) for p in PANES}
        self.cumulative = CumulativeView()
        self.slowdown = SlowdownView()
        self.clock = make_clock()
        # A model reaches the browser only if the document references it: a figure's tags do.
        self.heatmaps["A"].figure.tags = [self.clock]
        self.runs: RunPair | None = None
        self.seed_stats: SeedStats | None = None  # over the seeds done so far
        self.labels = ("A", "B")
        self.seq = 0
        self.frame = 0
        self.vm = 0
        self.follow = False
        self.window_ms = (0.0, 1.0)  # past and future shown around now when following
        self._secondary_at = 0.0
        self._since_secondary = 0  # frames sent since the secondary views were refreshed
        self.cards = FrameHTML(cards_html(None), sizing_mode="stretch_width", name="cards")
        # Fixed sizes: a pane that changes size makes the browser re-run every layout observer.
        self.events = FrameHTML(
            eventlog_html(None, 0, 0, self.labels),
            height=300,
            sizing_mode="stretch_width",
            name="events",
            styles={"overflow-y": "auto"},
        )
        self.legend = pn.pane.HTML(legend_html([]), sizing_mode="stretch_width")
        self.story = pn.pane.HTML(
            story_html("", None, self.labels), sizing_mode="stretch_width", name="story"
        )
        self.titles = {
            p: pn.pane.HTML(self._title(p, ""), sizing_mode="stretch_width", margin=(4, 10, 0, 10))
            for p in PANES
        }
        self.frame_label = FrameHTML(
            self._frame_text(),
            css_classes=["vm-frame-label"],
            margin=(6, 10),
            name="frame-label",
            width=230,
            height=24,
        )
        self.scrubber: Any = None  # a slider whose value follows the frame (set by the layout)

    def figures(self) -> list[Any]:
        """Every Bokeh figure of the main area (a switch keeps each one: same model)."""
        return [
            *[v.figure for v in self.heatmaps.values()],
            *[v.figure for v in self.timelines.values()],
            self.cumulative.faults,
            self.cumulative.stall,
            self.slowdown.figure,
        ]

    # -- text ------------------------------------------------------------------------------------
    @staticmethod
    def _title(pane: str, label: str, note: str = "") -> str:
        p = pane.lower()
        aside = f' <span class="vm-pane-note">({html.escape(note)})</span>' if note else ""
        return (
            f'<div class="vm-pane-title vm-pane-{p}"><span class="vm-tag vm-tag-{p}">'
            f"{pane}</span> {html.escape(label) or '—'}{aside}</div>"
        )

    def _frame_text(self) -> str:
        if self.runs is None:
            return '<span class="vm-frame">no run yet</span>'
        n = self.runs.n_frames
        t = self.runs.time_ms(self.frame)
        return (
            f'<span class="vm-frame" data-frame="{self.frame}">t = {t:,.0f} ms'
            f" · frame {self.frame} / {n - 1}</span>"
        )

    # -- updates ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        if self.doc is None:
            yield
            return
        with corked(self.doc), pn.io.hold(self.doc):
            yield

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """`hold`, and the document's graph of models recomputed once at the end rather than
        at each change that adds or drops a model (a scenario switch makes several: the
        sidebar's new editors, its help text, the story): each recompute walks every model
        of the page, measured at ~70 % of a switch's Python time. Not for a frame: leaving
        it always recomputes."""
        if self.doc is None:
            yield
            return
        with self.hold(), self.doc.models.freeze():
            yield

    def prepare(self, scenario: dict[str, Any], labels: tuple[str, str]) -> None:
        """Lay the panes out for a scenario before its runs arrive (same sizes, ranges and
        labels as the runs will need, so their first frame changes no layout)."""
        vms = scenario.get("vms") or []
        names = [str(v.get("name", "")) for v in vms]
        memory = [float(v.get("memory_mib", 1)) for v in vms]
        pcpus = int((scenario.get("host") or {}).get("pcpus", 1))
        for pane in PANES:
            self.heatmaps[pane].set_layout(names, memory)
            self.timelines[pane].set_layout(pcpus)
            self.titles[pane].object = self._title(pane, labels[PANES.index(pane)])
        duration = float(scenario.get("duration_ms", 1.0))
        self.x_range.update(start=0.0, end=duration)
        self.cumulative.x_range.update(start=0.0, end=duration)
        self.legend.object = legend_html(names)
        self.story.object = story_html(str(scenario.get("notice", "")), None, labels)

    def set_runs(self, runs: RunPair, labels: tuple[str, str], frame: int = 0, vm: int = 0) -> int:
        """Show a new pair of runs at `frame`; returns the clock seq of that frame."""
        self.runs = runs
        self.labels = labels
        scenario = runs.scenario_dict
        memory = [float(v.get("memory_mib", 1)) for v in scenario["vms"]]
        dev = np.concatenate([runs.a.device_delta, runs.b.device_delta])
        pages_scale = float((dev.sum(axis=1)).max()) if dev.size else 1.0
        queue_scale = float(
            max(runs.a.queue_depth.max(initial=0), runs.b.queue_depth.max(initial=0))
        )
        horizon = 0.0
        for s in (runs.a, runs.b):
            for i in range(0, s.n_frames, max(1, s.n_frames // 64)):
                plan = s.recording.plans[i]
                if plan.end_ns.size:
                    horizon = max(horizon, (float(plan.end_ns.max()) - float(s.times_ns[i])) / 1e6)
        duration = runs.duration_ms()
        future = min(max(horizon, 0.1 * duration), 0.4 * duration)
        self.window_ms = (2 * future, future)
        with self.hold():
            for pane, s in (("A", runs.a), ("B", runs.b)):
                self.heatmaps[pane].set_run(s, memory)
                self.timelines[pane].set_run(s, (pages_scale, queue_scale))
                label = labels[PANES.index(pane)]
                self.titles[pane].object = self._title(pane, label, runs.side_note(pane))
            self.cumulative.set_runs(runs)
            self.slowdown.set_runs(runs)
            self.legend.object = legend_html(runs.vm_names)
            self.story.object = story_html(str(scenario.get("notice", "")), runs, labels)
            if self.scrubber is not None:
                self.scrubber.end = max(1, runs.n_frames - 1)
        return self.show(frame, vm=vm)

    def set_seeds(self, stats: SeedStats | None, shown_seed: int | None) -> None:
        """New statistics over seeds: the cards and the per-VM chart show them."""
        self.seed_stats = stats
        with self.hold():
            self.slowdown.set_seeds(stats, shown_seed)
            if self.runs is not None:
                self.cards.object = cards_html(self.runs, self.labels, self.frame, stats)

    def set_follow(self, follow: bool) -> None:
        self.follow = follow
        if self.runs is not None:
            with self.hold():
                self._update_range()

    def _update_range(self) -> None:
        if self.runs is None:
            return
        duration = self.runs.duration_ms()
        if not self.follow:
            start, end = 0.0, duration
        else:
            past, future = self.window_ms
            now = self.runs.time_ms(self.frame)
            start = min(max(0.0, now - past), max(0.0, duration - past - future))
            end = start + past + future
        if (self.x_range.start, self.x_range.end) != (start, end):
            self.x_range.update(start=start, end=end)

    def show(self, frame: int, *, playing: bool = False, vm: int | None = None) -> int:
        """Send frame `frame`; returns its clock seq (the browser acknowledges it)."""
        if vm is not None:
            self.vm = vm
        if self.runs is None:
            return self.seq
        frame = min(max(int(frame), 0), self.runs.n_frames - 1)
        self.frame = frame
        now = time.monotonic()
        self._since_secondary += 1
        secondary = not playing or (
            now - self._secondary_at >= SECONDARY_PERIOD_S
            and self._since_secondary >= SECONDARY_EVERY_FRAMES
        )
        with self.hold():
            for pane in PANES:
                self.heatmaps[pane].show(frame, hover=not playing)
                self.timelines[pane].show(frame)
            self._update_range()
            if secondary:
                self._secondary_at = now
                self._since_secondary = 0
                self.cumulative.show(frame)
                self.cards.object = cards_html(self.runs, self.labels, frame, self.seed_stats)
                self.events.object = eventlog_html(self.runs, self.vm, frame, self.labels)
                self.frame_label.object = self._frame_text()
                if self.scrubber is not None:
                    self.scrubber.value = frame
            self.seq += 1
            self.clock.frame = frame
            self.clock.sent_at_ms = time.time() * 1000.0
            self.clock.seq = self.seq  # last: its acknowledgement covers everything above
        return self.seq
