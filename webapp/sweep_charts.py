"""The Sweep tab's charts: density per group over seeds, and a heatmap of a metric over two
axes, each a pure function of a results table (what `vmswap sweep` writes)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import panel as pn
from bokeh.models import ColorBar, ColumnDataSource, HoverTool, LinearColorMapper
from bokeh.palettes import Viridis256
from bokeh.plotting import figure

from engine.density import density_from_rows
from engine.sweep import known_metrics

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
