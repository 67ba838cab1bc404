"""Import a trace: upload a file, see its page-access heatmap over time and its miss-ratio
curve, and attach it to a VM as a trace workload.

`TraceState` holds one session's uploads (param only, no Panel): each file is parsed by
`engine.traces` (streamed, never unpickled, size- and reference-capped) and saved as an .npz in
a temporary folder of that session, which is what an attached VM replays. `TraceView` displays
it. `create_trace_view(on_attach)` builds a fresh pair for each browser session: no module state.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import panel as pn
import param
from bokeh.models import ColorBar, HoverTool, LinearColorMapper
from bokeh.palettes import Viridis256
from bokeh.plotting import figure

from engine.errors import VmswapError
from engine.mrc import fault_counts
from engine.scenario import from_dict
from engine.traces import FORMATS, read_trace
from engine.traces.compression import Source

# FileInput sends the file base64-encoded in one websocket message, and Bokeh's server takes
# messages of up to 20 MiB by default (--websocket-max-message-size): 14 MiB fits under it.
MAX_UPLOAD_BYTES = 14 * 1024 * 1024
MAX_REFS = 20_000_000  # what one upload may expand to (a compressed file can hold many)
# ... and the bytes it may decompress to: blank lines or an archive's padding hold no
# reference, and 14 MiB of gzip can hold 14 GiB of them (a lackey trace of MAX_REFS is ~400 MB).
MAX_EXPANDED_BYTES = 512 * 1024 * 1024
MAX_UPLOADS = 32  # per session: each one stays on disk while a VM may replay it
MRC_REFS = 5_000_000  # the curve of a longer trace is that of its first MRC_REFS references
MAX_COLUMNS = 2048  # time bins of the heatmap (DESIGN: downsample to ≤ 2,048 columns)
MAX_ROWS = 256  # page bins of the heatmap
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
log = logging.getLogger(__name__)

Attach = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Heatmap:
    """References per (page bin, time bin): rows are pages by rank in address order."""

    counts: np.ndarray  # int64 (rows, columns)
    references: int
    distinct_pages: int
    refs_per_column: float
    pages_per_row: float


@dataclass(frozen=True)
class Curve:
    """LRU miss ratio against frames, computed exactly in one pass."""

    frames: np.ndarray  # int64
    miss_ratio: np.ndarray  # float64
    references: int  # how many references it was computed from


def heatmap(pages: np.ndarray, columns: int = MAX_COLUMNS, rows: int = MAX_ROWS) -> Heatmap:
    """Bin a reference stream into at most `columns` time bins × `rows` page bins.

    Pages are ranked first (sparse addresses would leave most rows empty); a rank keeps the
    address order, so a scan is still a diagonal.
    """
    n = len(pages)
    distinct = np.unique(pages)
    n_cols, n_rows = max(1, min(columns, n)), max(1, min(rows, len(distinct)))
    counts = np.zeros(n_rows * n_cols, dtype=np.int64)
    step = 1 << 20  # bounded temporaries for a long trace
    for start in range(0, n, step):
        part = pages[start : start + step]
        rank = np.searchsorted(distinct, part)
        col = (np.arange(start, start + len(part), dtype=np.int64) * n_cols) // max(n, 1)
        row = (rank * n_rows) // len(distinct)
        counts += np.bincount(row * n_cols + col, minlength=n_rows * n_cols)
    return Heatmap(
        counts.reshape(n_rows, n_cols), n, len(distinct), n / n_cols, len(distinct) / n_rows
    )


def curve(pages: np.ndarray, max_refs: int = MRC_REFS) -> Curve:
    """The LRU miss-ratio curve of (at most the first `max_refs` references of) `pages`."""
    head = pages[:max_refs]
    distinct = len(np.unique(head))
    # Geometric from 1 frame: the knee of a real program's curve is usually at a few frames.
    frames = np.unique(np.round(np.geomspace(1, max(1, distinct), 32)).astype(np.int64))
    faults = fault_counts(head, frames.tolist(), ("lru",))["lru"]
    return Curve(frames, faults / max(1, len(head)), len(head))


def heatmap_figure(heat: Heatmap | None) -> Any:
    """A Bokeh image of the heatmap (log scale), or a note when there is nothing yet."""
    if heat is None:
        return pn.pane.Markdown("*Upload a trace to see its pages over time.*")
    fig = figure(
        height=320,
        sizing_mode="stretch_width",
        x_range=(0, heat.references),
        y_range=(0, heat.distinct_pages),
        title="page accesses over time",
        tools="pan,box_zoom,wheel_zoom,reset,save",
    )
    shade = np.log1p(heat.counts.astype(np.float64))
    mapper = LinearColorMapper(palette=Viridis256, low=0.0, high=max(1.0, float(shade.max())))
    fig.image(
        image=[shade],
        x=0,
        y=0,
        dw=heat.references,
        dh=heat.distinct_pages,
        color_mapper=mapper,
    )
    fig.add_layout(ColorBar(color_mapper=mapper, title="log(1 + refs)"), "right")
    fig.add_tools(HoverTool(tooltips=[("reference", "$x{0,0}"), ("page rank", "$y{0,0}")]))
    fig.xaxis.axis_label = "reference"
    fig.yaxis.axis_label = "page (rank in address order)"
    return pn.pane.Bokeh(fig, sizing_mode="stretch_width")


def curve_figure(mrc: Curve | None) -> Any:
    """The miss-ratio curve as a Bokeh line, or a note when there is nothing yet."""
    if mrc is None:
        return pn.pane.Markdown("*The miss-ratio curve appears here.*")
    title = "LRU miss ratio (exact, one pass)"
    if mrc.references >= MRC_REFS:
        title += f" of the first {mrc.references:,} references"
    fig = figure(
        height=320, sizing_mode="stretch_width", title=title, x_axis_type="log", y_axis_type="log"
    )
    fig.line(mrc.frames, mrc.miss_ratio, line_width=2)
    fig.scatter(mrc.frames, mrc.miss_ratio, size=5)
    fig.add_tools(HoverTool(tooltips=[("frames", "@x{0,0}"), ("miss ratio", "@y{0.0000}")]))
    fig.xaxis.axis_label = "frames"
    fig.yaxis.axis_label = "faults ÷ references"
    return pn.pane.Bokeh(fig, sizing_mode="stretch_width")


def expanded_bytes(path: Path, limit: int) -> int:
    """The size of `path` once decompressed (gzip, xz, zstd), counted up to just past `limit`
    (TraceError if the compressed data is damaged)."""
    total = 0
    with Source(path) as src:
        if src.compression is None:
            return path.stat().st_size
        while total <= limit and (chunk := src.read(1 << 20)):
            total += len(chunk)
    return total


class TraceState(param.Parameterized):
    """One session's imported traces: the last one shown, every one kept for attached VMs."""

    format = param.Selector(default="auto", objects=["auto", *FORMATS], doc="Trace format.")
    page_shift = param.Integer(
        12, bounds=(0, 62), doc="page = address >> this, for ucsd and lackey traces."
    )
    compact = param.Boolean(True, doc="Number the trace's distinct pages 0, 1, 2…")
    loop = param.Boolean(True, doc="Start the trace again when it ends.")
    time_scale = param.Number(
        1.0, bounds=(0.001, 1000.0), doc="Trace references per reference made."
    )
    error = param.String("", doc="Why the last upload or attach failed, for the page.")
    status = param.String("", doc="What was loaded.")
    heat = param.ClassSelector(class_=Heatmap, default=None, allow_None=True)
    mrc = param.ClassSelector(class_=Curve, default=None, allow_None=True)
    saved = param.String("", doc="The .npz an attached VM replays (in the session folder).")
    detected = param.String("", doc="The format the last trace was read as.")

    def __init__(self, on_attach: Attach | None = None, **params: Any):
        super().__init__(**params)
        self.on_attach = on_attach
        self.upload_dir = Path(tempfile.mkdtemp(prefix="vmswap-traces-"))
        self._uploads = 0
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.upload_dir, True)

    def load_bytes(self, filename: str, data: bytes | None) -> bool:
        """Parse an uploaded file and show it; False (with `error` set) if it cannot be used."""
        self.error = ""
        if not data:
            self.error = "The file is empty: choose a trace file."
            return False
        if len(data) > MAX_UPLOAD_BYTES:
            self.error = (
                f"{filename}: {len(data) / 2**20:.1f} MiB is more than the "
                f"{MAX_UPLOAD_BYTES // 2**20} MiB an upload may be; cut the trace or use "
                "`vmswap mrc` on the command line."
            )
            return False
        if self._uploads >= MAX_UPLOADS:
            self.error = f"At most {MAX_UPLOADS} uploads in one session: reload the page."
            return False
        self._uploads += 1
        stem = _SAFE_NAME.sub("_", Path(filename or "trace").name)[:80].strip("._") or "trace"
        raw = self.upload_dir / f"upload-{self._uploads}-{stem}"
        raw.write_bytes(data)
        try:
            if expanded_bytes(raw, MAX_EXPANDED_BYTES) > MAX_EXPANDED_BYTES:
                self.error = (
                    f"{filename}: expands to more than {MAX_EXPANDED_BYTES // 2**20} MiB once "
                    "decompressed; cut the trace or use `vmswap mrc` on the command line."
                )
                return False
            trace = read_trace(raw, self.format, page_shift=self.page_shift, max_refs=MAX_REFS)
        except VmswapError as exc:
            self.error = str(exc).replace(str(raw), filename or "the file")
            return False
        except Exception as exc:
            if not isinstance(exc, MemoryError | OSError | ValueError):  # a reader's bug: logged
                log.exception("reading an uploaded trace failed")
            self.error = f"{filename}: cannot read this file as a trace ({type(exc).__name__})."
            return False
        finally:
            raw.unlink(missing_ok=True)
        saved = self.upload_dir / f"{self._uploads}-{Path(stem).stem or 'trace'}.npz"
        np.savez_compressed(saved, pages=trace.pages, writes=trace.writes)
        heat, mrc = heatmap(trace.pages), curve(trace.pages)
        how = "auto-detected as" if self.format == "auto" else "read as"
        self.status = (
            f"**{filename}**: {len(trace):,} references to {heat.distinct_pages:,} distinct "
            f"pages, {int(trace.writes.sum()):,} writes; {how} `{trace.format}`."
        )
        self.param.update(heat=heat, mrc=mrc, saved=str(saved), detected=trace.format)
        return True

    def workload(self) -> dict[str, Any]:
        """The trace workload for the last upload (validated), as a plain dict."""
        if not self.saved:
            raise VmswapError("Upload a trace first.")
        w = {
            "kind": "trace",
            "path": self.saved,
            "format": "npz",
            "compact": self.compact,
            "loop": self.loop,
            "time_scale": float(self.time_scale),
        }
        from_dict({"vms": [{"workload": w}]}, source="trace import")  # raises if out of range
        return w

    def attach(self) -> dict[str, Any] | None:
        """Hand the workload to `on_attach`; None (with `error` set) if there is none."""
        self.error = ""
        try:
            w = self.workload()
        except VmswapError as exc:
            self.error = str(exc)
            return None
        if self.on_attach is None:
            self.error = "This page has no VM to attach a trace to."
            return None
        self.on_attach(dict(w))
        return w

    def close(self) -> None:
        """Remove this session's uploaded traces."""
        self._finalizer()


class TraceView(pn.viewable.Viewer):
    """The trace import panel for one session's TraceState."""

    def __init__(self, state: TraceState | None = None, **params: Any):
        super().__init__(**params)
        self.state = state or TraceState()
        s = self.state
        doc = pn.state.curdoc
        if doc is not None and doc.session_context is not None:
            pn.state.on_session_destroyed(lambda _: s.close())
        w = pn.widgets
        self.file_input = w.FileInput(multiple=False, label="Trace file")
        self.file_input.param.watch(self._on_upload, "value")
        self.attach_button = w.Button(
            label="Attach to VM",
            color="primary",
            disabled=pn.bind(lambda saved: not saved or s.on_attach is None, s.param.saved),
        )
        self.attach_button.on_click(self._on_attach)
        limit = f"up to {MAX_UPLOAD_BYTES // 2**20} MiB; text, LIRS, UCSD, lackey, oracleGeneral"
        controls = pn.Column(
            pn.pane.Markdown(f"#### Import a trace\n{limit}, CSV or .npz; gzip, xz or zstd."),
            self.file_input,
            w.Select.from_param(s.param.format, label="Format"),
            w.IntInput.from_param(s.param.page_shift, label="Page shift (ucsd, lackey)"),
            pn.pane.Markdown("#### Attach to a VM"),
            w.Checkbox.from_param(s.param.compact, label="Compact pages (dense ids)"),
            w.Checkbox.from_param(s.param.loop, label="Loop at the end"),
            w.FloatInput.from_param(s.param.time_scale, label="Time scale"),
            self.attach_button,
            width=320,
        )
        error = pn.pane.Alert(
            s.param.error, alert_type="danger", visible=pn.bind(bool, s.param.error)
        )
        results = pn.Column(
            pn.pane.Markdown(s.param.status),
            error,
            pn.bind(heatmap_figure, s.param.heat),
            pn.bind(curve_figure, s.param.mrc),
            sizing_mode="stretch_width",
        )
        self._layout = pn.Row(controls, results, sizing_mode="stretch_width")

    def _on_attach(self, _event: Any) -> None:
        self.state.attach()

    def _on_upload(self, event: Any) -> None:
        value = event.new
        if isinstance(value, list):  # multiple=False, but be safe
            value = value[0] if value else None
        name = self.file_input.filename
        if isinstance(name, list):
            name = name[0] if name else ""
        self._layout.loading = True
        try:
            self.state.load_bytes(os.path.basename(name or "trace"), value)
        finally:
            self._layout.loading = False

    def __panel__(self) -> Any:
        return self._layout


def create_trace_view(on_attach: Attach | None = None) -> TraceView:
    """A new trace import panel with its own state: call once per browser session.

    `on_attach(workload)` receives a trace workload dict (kind, path, format, compact, loop,
    time_scale) for the VM the caller chooses; `path` lies in the session's own temporary
    folder (`view.state.upload_dir`), removed when the session ends.
    """
    return TraceView(TraceState(on_attach))
