"""Import a trace: upload a file, see its page-access heatmap over time and its miss-ratio
curve, and attach it to a VM as a trace workload.

`TraceState` holds one session's uploads (param only, no Panel): each file is parsed by
`engine.traces` (streamed, never unpickled, size- and reference-capped) and saved as an .npz in
a temporary folder of that session, which is what an attached VM replays. `TraceView` displays
it. `create_trace_view(on_attach)` builds a fresh pair for each browser session: no module state.
"""

from __future__ import annotations

import dataclasses
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
from bokeh.models import ColorBar, HoverTool, LinearColorMapper, NumeralTickFormatter
from bokeh.palettes import Viridis256
from bokeh.plotting import figure

from engine.errors import VmswapError
from engine.mrc import fault_counts
from engine.scenario import from_dict
from engine.traces import FORMATS, detect_format, read_trace
from engine.traces.compression import Source
from webapp.doc_timers import LoopPoster
from webapp.runner import Runner, SyncRunner, ThreadRunner
from webapp.state import SCENARIO_DIR
from webapp.views.text import PlainAlert, PlainText
from webapp.views.upload_guard import UploadGuard

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
MAX_NAME_CHARS = 120  # of a file name quoted in a message
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
log = logging.getLogger(__name__)

# Real programs' traces that come with vmswap (scenarios/traces/README.md says how each was
# captured): a visitor with no trace file at hand opens one of them as if uploaded.
SHIPPED_DIR = SCENARIO_DIR / "traces"
_OFFSET = re.compile(r"byte offset \d+")
KNOWN_FORMATS = "text, LIRS, UCSD, lackey, CSV, oracleGeneral or .npz"
# attach(workload): None when the chosen VM now replays it, else why not (words, for the page).
Attach = Callable[[dict[str, Any]], str | None]


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
    fig.xaxis.formatter = NumeralTickFormatter(format="0,0")  # (not "6.000e+6")
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


def shipped_traces() -> list[str]:
    """The names of the traces that come with vmswap ("gzip", "sort", ...), in order."""
    return sorted(p.stem for p in SHIPPED_DIR.glob("*.npz"))


def display_name(filename: str | None) -> str:
    """A file name as a message may quote it: the browser's name, cut to a readable length."""
    name = os.path.basename(filename or "") or "the file"
    return name if len(name) <= MAX_NAME_CHARS else name[: MAX_NAME_CHARS - 1] + "…"


def too_large(name: str, size_bytes: int) -> str:
    return (
        f"{name}: {size_bytes / 2**20:.1f} MiB is more than the {MAX_UPLOAD_BYTES // 2**20} MiB "
        "an upload may be; cut the trace or use `vmswap mrc` on the command line."
    )


def not_a_trace(name: str, detail: str) -> str:
    """Why a binary file that auto-detection took for oracleGeneral records is no trace, in
    words (the reader's own message quotes raw 64-bit fields that mean nothing to a visitor)."""
    where = _OFFSET.search(detail)
    at = f" (the one at {where.group(0)} holds no page number)" if where else ""
    return (
        f"{name}: not a trace: binary data, read as oracleGeneral records{at}. "
        f"Traces may be {KNOWN_FORMATS}; or choose the Format."
    )


@dataclass(frozen=True)
class Upload:
    """An accepted upload, ready to parse: where its bytes go and what it is to be read as."""

    name: str  # as shown in messages (display_name)
    data: bytes
    raw: Path  # the bytes as uploaded, removed once parsed
    saved: Path  # the .npz an attached VM replays
    format: str
    page_shift: int


@dataclass(frozen=True)
class Loaded:
    """A parsed upload: what the page shows of it."""

    name: str
    saved: Path
    references: int
    writes: int
    format: str
    heat: Heatmap
    mrc: Curve
    detected: bool = False  # its format was detected (Format "auto" when it was begun)


def parse_upload(job: Upload) -> Loaded | str:
    """Read, check and save an upload; a readable message when the file cannot be used.

    The slow part of an upload (decompression, parsing, the heatmap and the curve), bounded by
    MAX_EXPANDED_BYTES and MAX_REFS. Touches no session state: a served session calls it on a
    worker thread, so that one upload never holds up the event loop that serves every session.
    """
    try:
        job.raw.write_bytes(job.data)
        if expanded_bytes(job.raw, MAX_EXPANDED_BYTES) > MAX_EXPANDED_BYTES:
            return (
                f"{job.name}: expands to more than {MAX_EXPANDED_BYTES // 2**20} MiB once "
                "decompressed; cut the trace or use `vmswap mrc` on the command line."
            )
        fmt = detect_format(job.raw) if job.format == "auto" else job.format
        try:
            trace = read_trace(job.raw, fmt, page_shift=job.page_shift, max_refs=MAX_REFS)
        except VmswapError as exc:
            if job.format == "auto" and fmt == "oracle":
                return not_a_trace(job.name, str(exc))
            raise
        np.savez_compressed(job.saved, pages=trace.pages, writes=trace.writes)
        heat, mrc = heatmap(trace.pages), curve(trace.pages)
    except VmswapError as exc:
        return str(exc).replace(str(job.raw), job.name)
    except RecursionError:
        return f"{job.name}: nested too deeply to read as a trace."
    except Exception as exc:
        if not isinstance(exc, MemoryError | OSError | ValueError):  # a reader's bug: logged
            log.exception("reading an uploaded trace failed")
        return f"{job.name}: cannot read this file as a trace ({type(exc).__name__})."
    finally:
        job.raw.unlink(missing_ok=True)
    return Loaded(
        job.name, job.saved, len(trace), int(trace.writes.sum()), trace.format, heat, mrc,
        detected=job.format == "auto",
    )  # fmt: skip


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
    trace_name = param.String("", doc="The shown trace's file name (as messages quote it).")
    vm = param.Selector(default=None, objects=[], allow_None=True, doc="The VM the trace drives.")
    attached = param.String("", doc="Which VM the last attached trace drives, in words.")

    def __init__(self, on_attach: Attach | None = None, **params: Any):
        super().__init__(**params)
        self.on_attach = on_attach
        self.upload_dir = Path(tempfile.mkdtemp(prefix="vmswap-traces-"))
        self._uploads = 0
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.upload_dir, True)

    def load_bytes(self, filename: str, data: bytes | None) -> bool:
        """Parse an uploaded file and show it; False (with `error` set) if it cannot be used.
        All in the caller's thread: a served session runs `begin`, `parse_upload` on a worker
        thread and `finish` instead, so that parsing never holds up the event loop."""
        job = self.begin(filename, data)
        return job is not None and self.finish(parse_upload(job))

    def begin(self, filename: str, data: bytes | None) -> Upload | None:
        """Check an upload's size and this session's count; the job to parse, or None (with
        `error` set). Quick: runs on the session's event loop."""
        self.error = ""
        shown = display_name(filename)
        if not data:
            self.error = "The file is empty: choose a trace file."
            return None
        if len(data) > MAX_UPLOAD_BYTES:
            self.error = too_large(shown, len(data))
            return None
        if self._uploads >= MAX_UPLOADS:
            self.error = f"At most {MAX_UPLOADS} uploads in one session: reload the page."
            return None
        self._uploads += 1
        stem = _SAFE_NAME.sub("_", Path(filename or "trace").name)[:80].strip("._") or "trace"
        return Upload(
            shown,
            data,
            raw=self.upload_dir / f"upload-{self._uploads}-{stem}",
            saved=self.upload_dir / f"{self._uploads}-{Path(stem).stem or 'trace'}.npz",
            format=str(self.format),
            page_shift=int(self.page_shift),
        )

    def begin_shipped(self, name: str) -> Upload | None:
        """`begin` for a trace that comes with vmswap (shipped_traces), read as .npz whatever
        the Format says; None (with `error` set) for a name that is not one of them."""
        shipped = shipped_traces()
        if name not in shipped:
            self.error = (
                f"{display_name(name)}: not a trace that comes with vmswap; "
                f"those are {', '.join(shipped)}."
            )
            return None
        job = self.begin(f"{name}.npz", (SHIPPED_DIR / f"{name}.npz").read_bytes())
        return None if job is None else dataclasses.replace(job, format="npz")

    def refuse_size(self, filename: str, size_bytes: int) -> None:
        """The browser kept back a file over the cap (see UploadGuard): say why."""
        self.error = too_large(display_name(filename), size_bytes)

    def finish(self, outcome: Loaded | str | BaseException) -> bool:
        """Show what `parse_upload` returned (a trace, or why not); True when it is shown."""
        if isinstance(outcome, BaseException):  # a bug of ours, not the file's
            log.error("parsing an upload failed", exc_info=outcome)
            outcome = "cannot read this file as a trace (an error of the server, logged)"
        if isinstance(outcome, str):
            # The plots below the message must not pass for the file that failed.
            self.param.update(
                error=outcome, status="", heat=None, mrc=None, saved="", detected="", trace_name=""
            )
            return False
        # (as it was read: the Format may have changed meanwhile, and a shipped trace is an
        # .npz whatever the Format says)
        how = "auto-detected as" if outcome.detected else "read as"
        self.status = (
            f"{outcome.name}: {outcome.references:,} references to "
            f"{outcome.heat.distinct_pages:,} distinct pages, {outcome.writes:,} writes; "
            f"{how} {outcome.format}."
        )
        self.param.update(
            heat=outcome.heat,
            mrc=outcome.mrc,
            saved=str(outcome.saved),
            detected=outcome.format,
            trace_name=outcome.name,
        )
        return True

    def set_vms(self, names: list[str]) -> None:
        """The VMs a trace may drive (the scenario's, in order); the choice is kept when that VM
        is still there, else the first."""
        keep = self.vm if self.vm in names else (names[0] if names else None)
        self.param.vm.objects = list(names)
        self.vm = keep

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
        if self.param.vm.objects and self.vm is None:
            self.error = "Pick the VM the trace drives."
            return None
        why = self.on_attach(dict(w))
        if why:
            self.error = why
            return None
        target = f"VM {self.vm}" if self.vm is not None else "the selected VM"
        self.attached = (
            f"Trace {self.trace_name or 'file'} now drives {target}: A and B run again "
            "(see the Compare tab)."
        )
        return w

    def close(self) -> None:
        """Remove this session's uploaded traces."""
        self._finalizer()


class TraceView(pn.viewable.Viewer):
    """The trace import panel for one session's TraceState. Served, an upload is parsed on the
    session's worker thread (`runner`) and shown when done; otherwise at once."""

    def __init__(
        self, state: TraceState | None = None, runner: Runner | None = None, **params: Any
    ):
        super().__init__(**params)
        self.state = state or TraceState()
        s = self.state
        doc = pn.state.curdoc
        served = doc is not None and doc.session_context is not None
        if runner is None and served:
            runner = ThreadRunner(LoopPoster(doc))
        self.runner: Runner = runner or SyncRunner()
        if served:
            pn.state.on_session_destroyed(lambda _: self.close())
        self._jobs = 0  # uploads begun: a result is shown only if no later one began
        w = pn.widgets
        self.file_input = w.FileInput(multiple=False, label="Trace file")
        self.file_input.param.watch(self._on_upload, "value")
        self.guard = UploadGuard(max_bytes=MAX_UPLOAD_BYTES)
        self.guard.param.watch(self._on_refused, "refused")
        self.shipped = w.Select(
            label="Or a real program's trace that comes with vmswap",
            options=shipped_traces(),
            css_classes=["vm-trace-shipped"],
            width=210,
        )
        self.open_shipped = w.Button(
            label="Open", css_classes=["vm-trace-open"], width=70, align="end"
        )
        self.open_shipped.on_click(self._on_open_shipped)
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
            self.guard,
            pn.Row(self.shipped, self.open_shipped),
            w.Select.from_param(s.param.format, label="Format"),
            w.IntInput.from_param(s.param.page_shift, label="Page shift (ucsd, lackey)"),
            pn.pane.Markdown("#### Attach to a VM"),
            w.Checkbox.from_param(s.param.compact, label="Compact pages (dense ids)"),
            w.Checkbox.from_param(s.param.loop, label="Loop at the end"),
            w.FloatInput.from_param(s.param.time_scale, label="Time scale"),
            w.Select.from_param(s.param.vm, label="VM the trace drives"),
            self.attach_button,
            PlainText(s.param.attached, css_classes=["vm-trace-attached"]),
            width=320,
        )
        # File names and the messages that quote them are the visitor's text: plain text only.
        self.status = PlainText(s.param.status, css_classes=["vm-trace-status"])
        self.error = PlainAlert(
            s.param.error,
            alert_type="danger",
            visible=pn.bind(bool, s.param.error),
            css_classes=["vm-trace-error"],
        )
        results = pn.Column(
            self.status,
            self.error,
            pn.bind(heatmap_figure, s.param.heat),
            pn.bind(curve_figure, s.param.mrc),
            sizing_mode="stretch_width",
        )
        self._layout = pn.Row(controls, results, sizing_mode="stretch_width")

    def _on_attach(self, _event: Any) -> None:
        self.state.attach()

    def _on_refused(self, event: Any) -> None:
        if event.new:
            self.state.refuse_size(str(event.new.get("name", "")), int(event.new.get("size", 0)))

    def _on_upload(self, event: Any) -> None:
        value = event.new
        if isinstance(value, list):  # multiple=False, but be safe
            value = value[0] if value else None
        name = self.file_input.filename
        if isinstance(name, list):
            name = name[0] if name else ""
        self._parse(self.state.begin(name or "trace", value))

    def _on_open_shipped(self, _event: Any) -> None:
        self._parse(self.state.begin_shipped(str(self.shipped.value)))

    def _parse(self, job: Upload | None) -> None:
        """Parse a begun upload on the runner and show it when done (None: nothing to do,
        `begin` said why)."""
        if job is None:
            return
        self._jobs += 1
        ticket = self._jobs
        # The inputs are disabled, not the whole panel put in `loading`: the form stays usable.
        self.file_input.disabled = self.open_shipped.disabled = True
        shown, self.state.status = self.state.status, f"Reading {job.name}…"
        self.runner.submit(
            lambda: parse_upload(job), lambda done: self._parsed(ticket, shown, done)
        )

    def _parsed(self, ticket: int, shown: str, outcome: Loaded | str | BaseException) -> None:
        if ticket != self._jobs:
            return
        self.file_input.disabled = self.open_shipped.disabled = False
        self.state.status = shown  # what is still on show, unless this upload replaces it
        self.state.finish(outcome)

    def close(self) -> None:
        """Stop the worker and remove this session's uploads (its browser tab closed)."""
        if isinstance(self.runner, ThreadRunner):
            self.runner.shutdown()
        self.state.close()

    def __panel__(self) -> Any:
        return self._layout


def attach_to_session(
    view: TraceView, session: Any, attach: Callable[[dict[str, Any]], None]
) -> None:
    """Offer the session's VMs in the view's picker and attach to the one picked.

    `session` is the page's SessionState (its `scenario.vms`, `selected_vm`, `runs` and
    `message`), `attach(workload)` the controller's, which drives the selected VM and reports
    in `session.message`. The chosen VM becomes the selected one (the Compare tab's event log
    then follows it too). The confirmation goes once no VM replays the file any more (another
    scenario, or the VM's workload changed).
    """
    trace = view.state
    driving = {"path": ""}  # the file the confirmation is about

    def names(_: Any = None) -> list[str]:
        vms = list(session.scenario.vms)
        trace.set_vms([vm.name for vm in vms])
        if trace.attached and driving["path"] not in {str(vm.workload.path) for vm in vms}:
            trace.attached = ""
        return [vm.name for vm in vms]

    def on_attach(workload: dict[str, Any]) -> str | None:
        vms = names()
        if trace.vm not in vms:
            return "Pick the VM the trace drives."
        i = vms.index(trace.vm)
        session.selected_vm = i
        before = session.scenario.vms[i]
        attach(workload)  # on success the scenario holds a new VM there, replaying the file
        vm = session.scenario.vms[i] if i < len(session.scenario.vms) else before
        if vm is before or str(vm.workload.path) != str(workload["path"]):
            return str(session.message) or f"Could not attach the trace to VM {trace.vm}."
        driving["path"] = str(workload["path"])
        return None

    trace.on_attach = on_attach
    session.param.watch(names, ["runs", "scenario"])
    names()


def create_trace_view(on_attach: Attach | None = None) -> TraceView:
    """A new trace import panel with its own state: call once per browser session.

    `on_attach(workload)` receives a trace workload dict (kind, path, format, compact, loop,
    time_scale) for the VM the caller chooses; `path` lies in the session's own temporary
    folder (`view.state.upload_dir`), removed when the session ends.
    """
    return TraceView(TraceState(on_attach))
