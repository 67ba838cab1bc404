"""Residency heatmap of one pane: a strip per VM, one column per page bin, in one image.

Each column of a VM's strip is a small stacked bar of the page states in that bin (STRIP_ROWS
levels: a bin that is 30 % prefetched shows 30 % green). Strips are as long as the VM's memory
on a shared MiB axis. The whole pane is one image, so a frame sends one patch: the band of
image rows from the first to the last VM whose strip changed (nothing if none did). The counts
behind the hover travel only while paused (one small array per pane).
"""

from __future__ import annotations

import numpy as np
from bokeh.models import (
    ColumnDataSource,
    CustomJSHover,
    FixedTicker,
    HoverTool,
    LinearColorMapper,
    Range1d,
)
from bokeh.plotting import figure

from webapp.runs import DISPLAY_STATES, MAX_DISPLAY_COLUMNS, RunSeries, bin_edges
from webapp.views.palette import STATE_PALETTE

STRIP_ROWS = 8  # levels of the stacked bar in each column
GAP_ROWS = 2  # blank image rows between two VMs
ROWS_PER_VM = STRIP_ROWS + GAP_ROWS
# The figure is as tall as this many VMs need even when fewer are shown (strips get thicker):
# every shipped scenario then has the same height, and switching scenario changes no size. A
# change of height makes the browser lay the whole page out again.
STABLE_VMS = 8
BLANK = len(DISPLAY_STATES)  # palette index of the background
_LEVELS = (np.arange(STRIP_ROWS) + 0.5) / STRIP_ROWS

COUNTS_JS = (
    f"const labels = {list(DISPLAY_STATES)!r};"
    """
if (value == null || value.length == null) { return ''; }
const parts = [];
for (let i = 0; i < labels.length; i++) {
  if (value[i] > 0) { parts.push(labels[i] + ' ' + value[i]); }
}
return parts.length ? parts.join(' · ') : '—';
"""
)


def strip_image(counts: np.ndarray) -> np.ndarray:
    """(STRIP_ROWS, columns) display-state index per pixel from (columns, states) counts:
    level h of a column takes the state that covers fraction (h + ½)/STRIP_ROWS of its pages."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum(axis=1, keepdims=True)
    cum = np.cumsum(counts, axis=1) / np.where(total > 0, total, 1.0)
    idx = (cum[None, :, :] <= _LEVELS[:, None, None]).sum(axis=2)
    idx = np.minimum(idx, counts.shape[1] - 1)
    idx[:, total[:, 0] == 0] = DISPLAY_STATES.index("untouched")
    return idx.astype(np.uint8)


def resample(counts: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(width, states) counts from (bins, states), and the first source bin of each column:
    adjacent bins are summed when there are more bins than columns, repeated when fewer."""
    bins = counts.shape[0]
    if bins >= width:
        first = bin_edges(bins, width)
        return np.add.reduceat(counts, first, axis=0), first
    first = (np.arange(width) * bins) // width
    return counts[first], first


class ResidencyView:
    """One pane's heatmap; `set_run` replaces everything, `show` patches one band."""

    def __init__(self, pane: str, height_per_vm: int = 26):
        self.pane = pane
        self.height_per_vm = height_per_vm
        self.source = ColumnDataSource(
            dict(image=[np.full((1, 1), BLANK, np.uint8)], x=[0.0], y=[0.0], dw=[1.0], dh=[1.0])
        )
        self.hover_source = ColumnDataSource(
            dict(
                image=[np.zeros((1, 1), np.uint8)],
                vmidx=[np.full((1, 1), -1, np.int32)],
                lo=[np.zeros((1, 1), np.int32)],
                hi=[np.zeros((1, 1), np.int32)],
                counts=[np.zeros((1, 1, len(DISPLAY_STATES)), np.uint32)],
                frame=[0],
                x=[0.0],
                y=[0.0],
                dw=[1.0],
                dh=[1.0],
            )
        )
        self.y_range = Range1d(0, 1)
        self.x_range = Range1d(0, 1)
        fig = figure(
            height=140,
            sizing_mode="stretch_width",
            x_range=self.x_range,
            y_range=self.y_range,
            toolbar_location=None,
            tools="",
            name=f"heatmap-{pane.lower()}",
            min_border_left=70,
            min_border_right=10,
            min_border_top=4,
            min_border_bottom=4,
            output_backend="canvas",
        )
        palette = [*STATE_PALETTE, "rgba(0, 0, 0, 0)"]
        mapper = LinearColorMapper(palette=palette, low=-0.5, high=len(palette) - 0.5)
        fig.image("image", x="x", y="y", dw="dw", dh="dh", source=self.source, color_mapper=mapper)
        invisible = LinearColorMapper(palette=["#000000"], low=0, high=1)
        self.hover_renderer = hover_r = fig.image(
            "image",
            x="x",
            y="y",
            dw="dw",
            dh="dh",
            source=self.hover_source,
            color_mapper=invisible,
            global_alpha=0.0,
        )
        self.names_hover = CustomJSHover(
            args=dict(names=[]), code="return value >= 0 ? names[value] : '';"
        )
        fig.add_tools(
            HoverTool(
                renderers=[hover_r],
                tooltips=[
                    ("VM", "@vmidx{custom}"),
                    ("pages", "@lo{0,0} – @hi{0,0}"),
                    ("states", "@counts{custom}"),
                    ("at frame", "@frame"),
                ],
                formatters={"@vmidx": self.names_hover, "@counts": CustomJSHover(code=COUNTS_JS)},
            )
        )
        fig.yaxis.ticker = FixedTicker(ticks=[])  # its ticks change in place, never the model
        fig.xaxis.axis_label = "guest memory, MiB"
        fig.xaxis.axis_label_text_font_size = "10px"
        fig.xaxis.major_label_text_font_size = "10px"
        fig.yaxis.major_label_text_font_size = "11px"
        fig.ygrid.visible = False
        fig.xgrid.visible = False
        fig.outline_line_color = None
        fig.yaxis.major_tick_line_color = None
        fig.yaxis.axis_line_color = None
        self.figure = fig
        self.series: RunSeries | None = None
        self.widths: list[int] = []
        self.first_bin: list[np.ndarray] = []
        self.image = np.zeros((1, 1), np.uint8)
        self.frame = -1

    # -- pictures -----------------------------------------------------------------------------
    def _counts(self, i: int) -> list[np.ndarray]:
        """Per VM, (its width in columns, states) counts at frame i."""
        assert self.series is not None
        raw = self.series.display_counts(i)
        return [resample(c, w)[0] for c, w in zip(raw, self.widths, strict=True)]

    def _image(self, counts: list[np.ndarray]) -> np.ndarray:
        """All strips at once: (n_vms * ROWS_PER_VM, columns) palette indices."""
        n = len(counts)
        cube = self._counts_cube(counts)[::-1]  # VM k again at index k
        strips = strip_image(cube.reshape(-1, cube.shape[2])).reshape(STRIP_ROWS, n, -1)
        img = np.full((n, ROWS_PER_VM, self.columns), BLANK, dtype=np.uint8)
        img[:, GAP_ROWS // 2 : GAP_ROWS // 2 + STRIP_ROWS] = strips.transpose(1, 0, 2)
        for k, w in enumerate(self.widths):
            img[k, :, w:] = BLANK
        return img[::-1].reshape(n * ROWS_PER_VM, self.columns)

    def _counts_cube(self, counts: list[np.ndarray]) -> np.ndarray:
        n = len(counts)
        cube = np.zeros((n, self.columns, len(DISPLAY_STATES)), dtype=np.uint32)
        for k, c in enumerate(counts):
            cube[n - 1 - k, : c.shape[0]] = c
        return cube

    # -- updates ------------------------------------------------------------------------------
    def set_run(self, series: RunSeries, vm_memory_mib: list[float]) -> None:
        """Show a new run at frame 0 (everything is replaced)."""
        self.series = series
        n = len(series.vm_names)
        top = max(vm_memory_mib) if vm_memory_mib else 1.0
        recorded = [int(c) for c in series.recording.columns]
        self.columns = min(MAX_DISPLAY_COLUMNS, max(recorded))
        self.widths = [max(1, round(self.columns * m / top)) for m in vm_memory_mib]
        raw = series.display_counts(0)
        self.first_bin = [resample(c, w)[1] for c, w in zip(raw, self.widths, strict=True)]
        counts = [resample(c, w)[0] for c, w in zip(raw, self.widths, strict=True)]
        self.image = self._image(counts)
        geometry = dict(x=[0.0], y=[0.0], dw=[float(top)], dh=[float(n)])
        self.source.data = dict(image=[self.image.copy()], **geometry)
        vmidx = np.full((n, self.columns), -1, dtype=np.int32)
        lo = np.zeros((n, self.columns), dtype=np.int32)
        hi = np.zeros((n, self.columns), dtype=np.int32)
        for k in range(n):
            first_page, last_page = series.page_ranges(k)
            w, fb = self.widths[k], self.first_bin[k]
            last_bin = np.append(fb[1:] - 1, len(first_page) - 1) if len(fb) else fb
            last_bin = np.maximum(last_bin, fb)
            vmidx[n - 1 - k, :w] = k
            lo[n - 1 - k, :w] = first_page[fb]
            hi[n - 1 - k, :w] = last_page[last_bin]
        self.hover_source.data = dict(
            image=[np.zeros((n, self.columns), np.uint8)],
            vmidx=[vmidx],
            lo=[lo],
            hi=[hi],
            counts=[self._counts_cube(counts)],
            frame=[0],
            **geometry,
        )
        self.set_layout(list(series.vm_names), vm_memory_mib)
        self.frame = 0

    def set_layout(self, vm_names: list[str], vm_memory_mib: list[float]) -> None:
        """Size, ranges and labels for these VMs (before a run, so the first frame of the
        run does not make the page lay itself out again)."""
        n = len(vm_names)
        top = float(max(vm_memory_mib)) if vm_memory_mib else 1.0
        self.names_hover.args = dict(names=list(vm_names))
        self.y_range.update(start=0.0, end=float(n))
        self.x_range.update(start=0.0, end=top)
        ticks = [n - 1 - k + 0.5 for k in range(n)]
        ticker = self.figure.yaxis.ticker
        if list(ticker.ticks) != ticks:
            ticker.ticks = ticks
        self.figure.yaxis.major_label_overrides = {
            float(n - 1 - k + 0.5): name for k, name in enumerate(vm_names)
        }
        height = self.height_for(n)
        if self.figure.height != height:
            self.figure.height = height

    def height_for(self, n_vms: int) -> int:
        """Pixels for n_vms strips: the same for any number up to STABLE_VMS."""
        return 34 + self.height_per_vm * max(n_vms, STABLE_VMS)

    def show(self, i: int, hover: bool = True) -> int:
        """Frame i: patch the band of rows that changed; returns how many image rows were sent."""
        if self.series is None:
            return 0
        counts = self._counts(i)
        img = self._image(counts)
        rows = np.flatnonzero((img != self.image).any(axis=1))
        sent = 0
        if rows.size:
            r0, r1 = int(rows[0]), int(rows[-1]) + 1
            band = img[r0:r1]
            self.source.patch({"image": [((0, slice(r0, r1), slice(None)), band.reshape(-1))]})
            self.image = img
            sent = r1 - r0
        if hover:
            self.hover_source.patch({"counts": [(0, self._counts_cube(counts))], "frame": [(0, i)]})
        # The hover layer is only there while paused: during playback it would be repainted
        # every frame for nothing (its counts are not sent then).
        self.hover_renderer.visible = hover
        self.frame = i
        return sent
