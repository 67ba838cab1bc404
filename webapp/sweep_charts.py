"""The Sweep tab's charts: density per group over seeds, a heatmap of a metric over two axes,
and a ratio sweep's heatmap (the operating envelope: one policy ÷ the best baseline, on a
diverging scale centred on 1), each a pure function of a results table (what `vmswap sweep`
writes). `ratio_heatmap` is plain Bokeh: benchmarks/envelope.py draws the same figure as PNG."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import panel as pn
from bokeh.models import ColorBar, ColumnDataSource, HoverTool, LinearColorMapper, LogColorMapper
from bokeh.palettes import RdBu11, Viridis256, interp_palette
from bokeh.plotting import figure

from engine.density import density_from_rows
from engine.stats import is_number
from engine.sweep import known_metrics, ratio_cells

NOT_AXES = ("run", "seed")


def varying_axes(frame: pd.DataFrame, metrics: Any = ()) -> list[str]:
    """Axis columns (not run, seed or a metric) that take more than one value."""
    metric_cols = set(metrics) or set(known_metrics())
    return [
        c
        for c in frame.columns
        if c not in NOT_AXES and c not in metric_cols and frame[c].nunique() > 1
    ]


def density_data(frame: pd.DataFrame, target_slowdown: float) -> pd.DataFrame:
    """Per group (policy and any other varying axis but vm_count) and seed: the density."""
    groups = [c for c in varying_axes(frame) if c != "vm_count"] or ["policy"]
    rows = (
        (" · ".join(str(r[g]) for g in groups), r["seed"], r["vm_count"], r["slowdown"])
        for r in frame.to_dict("records")
    )
    found = density_from_rows(rows, target_slowdown)
    return pd.DataFrame(
        [(g, s, d) for g, pairs in found.items() for s, d in pairs],
        columns=["group", "seed", "density"],
    )


def heatmap_data(frame: pd.DataFrame, x: str, y: str, metric: str) -> pd.DataFrame:
    """The metric's mean over everything but x and y (seeds, other axes), one row per cell."""
    cells = frame.groupby([x, y], sort=True)[metric].mean().reset_index()
    cells[x] = cells[x].astype(str)
    cells[y] = cells[y].astype(str)
    return cells


def density_figure(frame: pd.DataFrame | None, target_slowdown: float) -> Any:
    """Each group's density per seed (dots) with its range and median; a note without data."""
    if frame is None:
        return pn.pane.Markdown("Results appear here when a sweep ends.")
    if "slowdown" not in frame.columns or frame["vm_count"].nunique() < 2:
        return pn.pane.Markdown("Density needs the `slowdown` metric and several VM counts.")
    data = density_data(frame, target_slowdown)
    groups = list(dict.fromkeys(data["group"]))
    stats = data.groupby("group")["density"].agg(["min", "median", "max"]).loc[groups]
    fig = figure(
        x_range=groups,
        height=320,
        sizing_mode="stretch_width",
        title=f"Most VMs with slowdown ≤ {target_slowdown:g} (each dot a seed)",
        toolbar_location=None,
    )
    src = ColumnDataSource({"group": groups, **{k: list(stats[k]) for k in stats.columns}})
    fig.segment("group", "min", "group", "max", source=src, line_width=3, alpha=0.5)
    fig.scatter("group", "median", source=src, size=14, marker="dash", line_width=3)
    points = ColumnDataSource({c: list(data[c]) for c in data.columns})
    fig.scatter("group", "density", source=points, size=8, alpha=0.7)
    fig.add_tools(HoverTool(tooltips=[("group", "@group"), ("VMs", "@density")]))
    fig.yaxis.axis_label = "VMs"
    fig.y_range.start = 0
    return pn.pane.Bokeh(fig, sizing_mode="stretch_width")


def heatmap_figure(frame: pd.DataFrame | None, x: Any, y: Any, metric: Any) -> Any:
    """The metric's mean per (x, y) cell, coloured and labelled; a note without two axes."""
    if frame is None:
        return pn.pane.Markdown("")
    if not x or not y or x == y or metric not in frame.columns:
        return pn.pane.Markdown("A heatmap needs two different axes that vary.")
    cells = heatmap_data(frame, x, y, metric)
    xs = [str(v) for v in sorted(frame[x].unique())]
    ys = [str(v) for v in sorted(frame[y].unique())]
    values = cells[metric].astype(float)
    mapper = LinearColorMapper(
        palette=Viridis256, low=float(values.min()), high=float(values.max()) or 1.0
    )
    fig = figure(
        x_range=xs,
        y_range=ys,
        height=320,
        sizing_mode="stretch_width",
        title=f"{metric}, mean over seeds and other axes",
        toolbar_location=None,
    )
    src = ColumnDataSource(
        {
            "x": list(cells[x]),
            "y": list(cells[y]),
            "v": list(values),
            "t": [f"{v:.3g}" for v in values],
        }
    )
    fig.rect("x", "y", 1, 1, source=src, fill_color={"field": "v", "transform": mapper})
    fig.text("x", "y", text="t", source=src, text_align="center", text_baseline="middle",
             text_color="white", text_font_size="10pt")  # fmt: skip
    fig.add_layout(ColorBar(color_mapper=mapper), "right")
    fig.add_tools(HoverTool(tooltips=[(x, "@x"), (y, "@y"), (metric, "@v")]))
    fig.xaxis.axis_label = x
    fig.yaxis.axis_label = y
    return pn.pane.Bokeh(fig, sizing_mode="stretch_width")


# -- the operating envelope: a ratio sweep's heatmap ----------------------------------------

# Blue where the policy loses less time than the best baseline, red where it loses more, white
# at 1: Bokeh's RdBu11 runs from dark blue (#053061) to dark red, so low ratios map to blue.
# Interpolated to 255 steps (odd: white is the middle one) so 0.85 is not drawn as 1.
RATIO_PALETTE = tuple(interp_palette(RdBu11, 255))
RATIO_FLOOR = 1.25  # the colour scale spans at least 1/1.25 .. 1.25, so noise near 1 stays pale


def _text_colour(ratio: float, spread: float) -> str:
    """Dark text on the pale middle of the scale, white on its deep ends."""
    deep = ratio <= 0 or abs(math.log(ratio)) > 0.6 * math.log(spread)
    return "white" if deep else "black"


def ratio_legend(of_label: str, to_label: str, metric: str) -> str:
    """What a ratio heatmap's colours mean, in one line."""
    return f"{metric}: {of_label} ÷ {to_label} (< 1: {of_label} loses less; 1 = white)"


def axis_names(x: str, rows: pd.DataFrame) -> dict[str, str]:
    """Tick labels for x: the configured value, and for `overcommit` the measured one."""
    names = {str(v): str(v) for v in rows[x].unique()}
    if x == "overcommit" and "real_overcommit" in rows:
        for value, group in rows.groupby(x):
            real = group["real_overcommit"]
            lo, hi = f"{real.min():.2f}", f"{real.max():.2f}"
            span = lo if lo == hi else f"{lo}–{hi}"  # one figure when every run shares it
            names[str(value)] = f"{span} (set {value:g})"
    return names


def ratio_heatmap(
    rows: pd.DataFrame, x: str, y: str, *, of_label: str, to_label: str, metric: str
) -> Any:
    """A Bokeh figure: the mean ratio per (x, y) cell over seeds, on a diverging log scale
    centred on 1; the hover holds the 95 % interval, the seeds, the measured overcommit and
    the best baseline settings. `rows` is `engine.sweep.ratio_rows`' table."""
    cells = ratio_cells(rows, x, y)
    names = {x: axis_names(x, rows), y: axis_names(y, rows)}
    # In the sweep file's order (rows come in grid order), not sorted: devices read in turn.
    xs = [names[x][str(v)] for v in rows[x].unique()]
    ys = [names[y][str(v)] for v in reversed(rows[y].unique())]  # the first value on top
    ratios = [float(r) for r in cells["ratio"]]
    spread = max([RATIO_FLOOR, *(max(r, 1 / r) for r in ratios if r > 0)])
    mapper = LogColorMapper(palette=RATIO_PALETTE, low=1 / spread, high=spread)
    interval_text = [
        f"{lo:.3f} – {hi:.3f}" if is_number(lo) and is_number(hi) else "one seed"
        for lo, hi in zip(cells["lo"], cells["hi"], strict=True)
    ]
    real = cells["real_overcommit"] if "real_overcommit" in cells else [float("nan")] * len(cells)
    src = ColumnDataSource(
        {
            "x": [names[x][str(v)] for v in cells[x]],
            "y": [names[y][str(v)] for v in cells[y]],
            "v": ratios,
            "t": [f"{r:.2f}" for r in ratios],
            "c": [_text_colour(r, spread) for r in ratios],
            "ci": interval_text,
            "n": list(cells["n"]),
            "real": [f"{r:.2f}" if is_number(r) else "–" for r in real],
            "sub": [f"touched ÷ frames {r:.2f}" if is_number(r) else "" for r in real],
            "best": list(cells["baselines"]),
        }
    )
    fig = figure(
        x_range=xs,
        y_range=ys,
        height=360,
        width=720,
        title=ratio_legend(of_label, to_label, metric),
        toolbar_location=None,
    )
    fig.rect("x", "y", 1, 1, source=src, fill_color={"field": "v", "transform": mapper},
             line_color="white")  # fmt: skip
    fig.text("x", "y", text="t", source=src, text_align="center", text_baseline="middle",
             text_color={"field": "c"}, text_font_size="11pt")  # fmt: skip
    fig.text("x", "y", text="sub", source=src, text_align="center", text_baseline="top",
             y_offset=12, text_color={"field": "c"}, text_font_size="7.5pt")  # fmt: skip
    bar = ColorBar(color_mapper=mapper, title=f"{of_label} ÷ {to_label}", width=12)
    fig.add_layout(bar, "right")
    fig.add_tools(
        HoverTool(
            tooltips=[
                (x, "@x"),
                (y, "@y"),
                ("ratio, mean over seeds", "@t"),
                ("95 % interval", "@ci"),
                ("seeds", "@n"),
                ("real overcommit (touched ÷ frames)", "@real"),
                (f"best {to_label}", "@best"),
            ]
        )
    )
    fig.xaxis.axis_label = "real overcommit, touched pages ÷ frames" if x == "overcommit" else x
    fig.yaxis.axis_label = y
    return fig


def ratio_figure(rows: pd.DataFrame | None, ratio: Any, x: Any, y: Any) -> Any:
    """The app's pane for a ratio sweep's heatmap; a note when it cannot be drawn."""
    if rows is None or ratio is None:
        return pn.pane.Markdown("")
    if not x or not y or x == y or rows.empty:
        return pn.pane.Markdown("The ratio heatmap needs two different axes that vary.")
    fig = ratio_heatmap(
        rows, x, y, of_label=ratio.of_label, to_label=ratio.to_label, metric=ratio.metric
    )
    fig.sizing_mode = "stretch_width"
    return pn.pane.Bokeh(fig, sizing_mode="stretch_width")
