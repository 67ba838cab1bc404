"""A against B over the whole run: cumulative major faults and stall, per-VM slowdown bars
(over several seeds: the mean with a 95 % interval whisker)."""

from __future__ import annotations

import numpy as np
from bokeh.models import ColumnDataSource, FactorRange, HoverTool, Range1d, Span, Whisker
from bokeh.plotting import figure

from webapp.runs import RunPair, RunSeries
from webapp.seeds import SeedStats
from webapp.views.cards import SLOWDOWN, within
from webapp.views.palette import PANE_COLOURS
from webapp.views.sync import ColumnSync


def _small_figure(title: str, x_range: Range1d, name: str):
    fig = figure(
        height=210,
        sizing_mode="stretch_width",
        x_range=x_range,
        y_range=Range1d(0, 1),
        toolbar_location=None,
        tools="",
        title=title,
        name=name,
        min_border_left=60,
        min_border_right=12,
        output_backend="canvas",
    )
    fig.title.text_font_size = "12px"
    fig.xaxis.axis_label = "simulated time, ms"
    for ax in (fig.xaxis, fig.yaxis):
        ax.axis_label_text_font_size = "10px"
        ax.major_label_text_font_size = "10px"
    fig.outline_line_color = None
    return fig


class CumulativeView:
    """Two charts; each pane's line grows with the frames (stream), a cursor marks now."""

    def __init__(self) -> None:
        self.x_range = Range1d(0, 1)
        empty = dict(t=np.zeros(0), faults=np.zeros(0), stall=np.zeros(0))
        self.sources = {p: ColumnDataSource(dict(empty)) for p in ("A", "B")}
        self.syncs = {p: ColumnSync(s) for p, s in self.sources.items()}
        # No Bokeh Legend: it rebuilds DOM nodes on every paint; the titles say which is which.
        self.faults = _small_figure(
            "cumulative major faults (A solid, B dashed)", self.x_range, "cum-faults"
        )
        self.stall = _small_figure(
            "cumulative stall, ms (A solid, B dashed)", self.x_range, "cum-stall"
        )
        self.spans = []
        for fig, col in ((self.faults, "faults"), (self.stall, "stall")):
            for pane, src in self.sources.items():
                dash = "solid" if pane == "A" else "dashed"
                fig.line(
                    "t",
                    col,
                    source=src,
                    line_color=PANE_COLOURS[pane],
                    line_width=2,
                    line_dash=dash,
                )
            fig.add_tools(
                HoverTool(tooltips=[("t", "@t{0.0} ms"), (col, f"@{col}{{0,0.0}}")], mode="vline")
            )
            span = Span(location=0, dimension="height", line_color="#222222", line_width=1)
            fig.add_layout(span)
            self.spans.append(span)
        self.runs: RunPair | None = None

    @staticmethod
    def _data(s: RunSeries, i: int) -> dict[str, np.ndarray]:
        """The line up to frame i, after two isolated far points (NaN-separated, so never
        drawn): they pin the renderer's extent, so growing the line changes no CSS."""
        n = min(i, s.n_frames - 1) + 1
        far, nan = 1e12, np.nan
        head = np.array([-far, nan, far, nan])
        return dict(
            t=np.concatenate([head, s.times_ns[:n] / 1e6]),
            faults=np.concatenate([head, s.counter("major_faults")[:n].sum(axis=1).astype(float)]),
            stall=np.concatenate([head, s.counter("stall_ns")[:n].sum(axis=1) / 1e6]),
        )

    def set_runs(self, runs: RunPair) -> None:
        self.runs = runs
        self.x_range.start, self.x_range.end = 0.0, runs.duration_ms()
        for fig, col in ((self.faults, "faults"), (self.stall, "stall")):
            top = max(
                float(np.nanmax(self._data(s, s.n_frames - 1)[col][4:], initial=0))
                for s in (runs.a, runs.b)
            )
            fig.y_range.start, fig.y_range.end = 0.0, max(top * 1.05, 1.0)
        self.syncs["A"].replace(self._data(runs.a, 0))
        self.syncs["B"].replace(self._data(runs.b, 0))
        for span in self.spans:
            span.location = 0.0

    def show(self, i: int) -> None:
        if self.runs is None:
            return
        self.syncs["A"].update(self._data(self.runs.a, i))
        self.syncs["B"].update(self._data(self.runs.b, i))
        for span in self.spans:
            span.location = self.runs.time_ms(i)


SLOWDOWN_TITLE = "slowdown per VM, log scale (1 = unlimited memory)"
# A log axis has no 0: an interval whose lower end is below half the smallest bar or dot is
# drawn from there; the hover has it whole, but from 0 where a t-interval over few seeds
# reaches below (a slowdown never does).
FLOOR_SHARE = 0.5


def slowdown_title(stats: SeedStats | None) -> str:
    """The chart's title: what a bar, a whisker and a dot are."""
    if stats is None or stats.n < 2:
        return SLOWDOWN_TITLE
    return (
        f"slowdown per VM, log scale: mean of {stats.n} seeds (bar),\n"
        "95 % interval (whisker), seed shown (dot)"
    )


def slowdown_rows(
    runs: RunPair, stats: SeedStats | None
) -> tuple[dict[str, list], dict[str, list]]:
    """The bars (one per VM and pane, VM order then A, B) and the whiskers of the chart.

    With two seeds or more a bar is the mean over seeds and its whisker the 95 % interval;
    `shown` is the seed on display's own figure (a dot). With one seed a bar is that seed's."""
    over = stats is not None and stats.n >= 2
    bars: dict[str, list] = dict(x=[], slowdown=[], shown=[], pane=[], colour=[], vm=[], ci=[])
    whiskers: dict[str, list] = dict(x=[], lo=[], hi=[])
    for vm in runs.vm_names:
        for pane, s in (("A", runs.a), ("B", runs.b)):
            row = next((r for r in s.result.vms if r["name"] == vm), {})
            value = row.get("slowdown")
            shown = float(value) if value is not None else 1.0  # no bar
            iv = stats.vm_slowdown.get(vm, {}).get(pane) if over and stats is not None else None
            bars["x"].append((vm, pane))
            bars["slowdown"].append(iv.mean if iv is not None else shown)
            bars["shown"].append(shown)
            bars["pane"].append(pane)
            bars["colour"].append(PANE_COLOURS[pane])
            bars["vm"].append(vm)
            if iv is not None and iv.lo is not None and iv.hi is not None:
                lo = within(iv, SLOWDOWN).lo  # (from 0: a slowdown is never below)
                bars["ci"].append(f"{lo:.3f}× to {iv.hi:.3f}× over {iv.n} seeds")
                whiskers["x"].append((vm, pane))
                whiskers["lo"].append(lo)
                whiskers["hi"].append(iv.hi)
            else:
                bars["ci"].append("one seed so far")
    positive = [y for y in (*bars["slowdown"], *bars["shown"]) if y > 0]
    floor = FLOOR_SHARE * min(positive, default=1.0)
    whiskers["lo"] = [max(lo, floor) for lo in whiskers["lo"]]
    whiskers["hi"] = [max(hi, floor) for hi in whiskers["hi"]]
    return bars, whiskers


class SlowdownView:
    """Per-VM slowdown over the whole run (1.0: as fast as with unlimited memory), on a log
    axis so that one VM at 200x does not flatten the others; bars grow from 1. Over several
    seeds a bar is the mean, a whisker the 95 % interval and a dot the seed on display."""

    def __init__(self) -> None:
        self.source = ColumnDataSource(
            dict(x=[], slowdown=[], shown=[], pane=[], colour=[], vm=[], ci=[])
        )
        self.whiskers = ColumnDataSource(dict(x=[], lo=[], hi=[]))
        self.x_range = FactorRange(factors=[])
        self.y_range = Range1d(0.9, 2)
        self.runs: RunPair | None = None
        self.stats: SeedStats | None = None
        fig = figure(
            y_axis_type="log",
            height=210,
            sizing_mode="stretch_width",
            x_range=self.x_range,
            y_range=self.y_range,
            toolbar_location=None,
            tools="",
            title=SLOWDOWN_TITLE,
            name="slowdown",
            min_border_left=50,
            output_backend="canvas",
        )
        fig.title.text_font_size = "12px"
        bars = fig.vbar(
            x="x",
            top="slowdown",
            bottom=1.0,
            width=0.85,
            source=self.source,
            fill_color="colour",
            line_color=None,
        )
        fig.add_layout(
            Whisker(
                source=self.whiskers,
                base="x",
                lower="lo",
                upper="hi",
                line_color="#222222",
                name="slowdown-interval",
            )
        )
        self.dots = fig.scatter(
            x="x", y="shown", source=self.source, size=5, color="#222222", visible=False
        )
        fig.add_layout(
            Span(location=1.0, dimension="width", line_color="#444444", line_dash="dotted")
        )
        fig.add_tools(
            HoverTool(
                renderers=[bars],
                tooltips=[
                    ("VM", "@vm"),
                    ("pane", "@pane"),
                    ("slowdown", "@slowdown{0.000}×"),
                    ("seed shown", "@shown{0.000}×"),
                    ("95 % interval", "@ci"),
                ],
            )
        )
        fig.xaxis.major_label_text_font_size = "10px"
        fig.xaxis.group_text_font_size = "10px"
        fig.xaxis.major_label_orientation = 0.0
        fig.yaxis.major_label_text_font_size = "10px"
        fig.xgrid.visible = False
        fig.outline_line_color = None
        self.figure = fig

    def set_runs(self, runs: RunPair) -> None:
        self.runs = runs
        self._render()

    def set_seeds(self, stats: SeedStats | None, shown_seed: int | None = None) -> None:
        """Statistics over the seeds done (None: none yet); the runs on display stay."""
        self.stats = stats
        self._render()

    def _render(self) -> None:
        if self.runs is None:
            return
        bars, whiskers = slowdown_rows(self.runs, self.stats)
        self.x_range.factors = list(bars["x"])
        self.source.data = bars
        self.whiskers.data = whiskers
        self.dots.visible = bool(whiskers["x"])
        self.figure.title.text = slowdown_title(self.stats)
        values = [*bars["slowdown"], *bars["shown"], *whiskers["lo"], *whiskers["hi"]]
        positive = [y for y in values if y > 0]
        self.y_range.start = min([0.9, *positive]) / 1.1
        self.y_range.end = max([1.2, *positive]) * 1.3
