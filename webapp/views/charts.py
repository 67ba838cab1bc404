"""A against B over the whole run: cumulative major faults and stall, per-VM slowdown bars."""

from __future__ import annotations

import numpy as np
from bokeh.models import ColumnDataSource, FactorRange, HoverTool, Range1d, Span
from bokeh.plotting import figure

from webapp.runs import RunPair, RunSeries
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


class SlowdownView:
    """Per-VM slowdown over the whole run (1.0: as fast as with unlimited memory), on a log
    axis so that one VM at 200x does not flatten the others; bars grow from 1."""

    def __init__(self) -> None:
        self.source = ColumnDataSource(dict(x=[], slowdown=[], pane=[], colour=[], vm=[]))
        self.x_range = FactorRange(factors=[])
        self.y_range = Range1d(0.9, 2)
        fig = figure(
            y_axis_type="log",
            height=210,
            sizing_mode="stretch_width",
            x_range=self.x_range,
            y_range=self.y_range,
            toolbar_location=None,
            tools="",
            title="slowdown per VM, log scale (1 = unlimited memory)",
            name="slowdown",
            min_border_left=50,
            output_backend="canvas",
        )
        fig.title.text_font_size = "12px"
        fig.vbar(
            x="x",
            top="slowdown",
            bottom=1.0,
            width=0.85,
            source=self.source,
            fill_color="colour",
            line_color=None,
        )
        fig.add_layout(
            Span(location=1.0, dimension="width", line_color="#444444", line_dash="dotted")
        )
        fig.add_tools(
            HoverTool(
                tooltips=[("VM", "@vm"), ("pane", "@pane"), ("slowdown", "@slowdown{0.000}×")]
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
        xs, ys, panes, colours, vms = [], [], [], [], []
        for pane, s in (("A", runs.a), ("B", runs.b)):
            for row in s.result.vms:
                value = row.get("slowdown")
                xs.append((row["name"], pane))
                ys.append(float(value) if value is not None else 1.0)  # no bar
                panes.append(pane)
                colours.append(PANE_COLOURS[pane])
                vms.append(row["name"])
        order = sorted(range(len(xs)), key=lambda k: (runs.vm_names.index(vms[k]), panes[k]))
        self.x_range.factors = [xs[k] for k in order]
        self.source.data = dict(
            x=[xs[k] for k in order],
            slowdown=[ys[k] for k in order],
            pane=[panes[k] for k in order],
            colour=[colours[k] for k in order],
            vm=[vms[k] for k in order],
        )
        positive = [y for y in ys if y > 0]
        self.y_range.start = min([0.9, *positive]) / 1.1
        self.y_range.end = max([1.2, *positive]) * 1.3
