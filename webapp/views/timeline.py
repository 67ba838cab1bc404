"""Timeline of one pane on the shared time axis: the pCPU Gantt, prefetch windows, swap device.

Rows from the top: one per pCPU (slices that ran, solid, with the stalled share of each frame
darkened at the bottom; the scheduler's planned slices ghosted), one band of prefetch windows
(a thin lane per VM), and the swap-device lane (pages per frame: demand reads, prefetch reads,
writes; queue depth as a line). Everything up to the now-cursor grows by stream and patch.
"""

from __future__ import annotations

import numpy as np
from bokeh.models import ColumnDataSource, FixedTicker, HoverTool, Range1d, Span
from bokeh.plotting import figure

from webapp.runs import RunSeries
from webapp.views.palette import DEVICE_COLOURS, vm_colour
from webapp.views.sync import ColumnSync

DEVICE_BAND = (0.0, 1.5)
PREFETCH_BAND = (1.7, 2.5)
CPU_BASE = 2.7
ROW_H = 0.8
# Every renderer costs the browser style and setup work on each paint, so the timeline has
# three: the planned slices (dashed, ghosted), everything that happened up to now (slices that
# ran, their stalled share, prefetch windows: one source sorted by start, so it only grows),
# and the device lane.
KIND_RANK = {"ran": 0, "stalled": 1, "prefetching": 2}
# As tall as this many pCPUs need even when there are fewer (rows get taller), so that
# switching between the shipped scenarios changes no size (see heatmap.STABLE_VMS).
STABLE_PCPUS = 4


def cpu_row(p: int, n_pcpus: int) -> float:
    """Bottom of pCPU p's row (pCPU 0 on top)."""
    return CPU_BASE + (n_pcpus - 1 - p)


def height_for(n_pcpus: int) -> int:
    """Pixels of a timeline with n_pcpus rows: the same for any number up to STABLE_PCPUS."""
    return int(70 + 34 * (max(n_pcpus, STABLE_PCPUS) + 2.6))


def _quads(left, right, bottom, top, colour, vm, what) -> dict[str, np.ndarray]:
    what = np.asarray(what, dtype=object)
    stalled = what == "stalled"
    prefetching = what == "prefetching"
    return dict(
        left=np.asarray(left, dtype=np.float64),
        right=np.asarray(right, dtype=np.float64),
        bottom=np.asarray(bottom, dtype=np.float64),
        top=np.asarray(top, dtype=np.float64),
        colour=np.asarray(colour, dtype=object),
        alpha=np.where(stalled, 0.45, np.where(prefetching, 0.9, 1.0)),
        line_alpha=np.where(stalled | prefetching, 0.0, 1.0),
        hatch=np.where(prefetching, "/", " ").astype(object),
        vm=np.asarray(vm, dtype=object),
        what=what,
    )


def stalled_vm(s: RunSeries) -> np.ndarray:
    """The VM of each stall mark (-1 if none): the slice on the mark's pCPU that started last
    at or before the mark (a pCPU runs one slice at a time, and marks are cut from slices)."""
    out = np.full(s.stall_start_ns.size, -1, dtype=np.int64)
    for p in range(s.n_pcpus):
        on = np.flatnonzero(s.slice_pcpu == p)  # sorted by start, as all slices are
        marks = np.flatnonzero(s.stall_pcpu == p)
        if not on.size or not marks.size:
            continue
        k = np.searchsorted(s.slice_start_ns[on], s.stall_start_ns[marks], side="right") - 1
        found = k >= 0
        out[marks[found]] = s.slice_vm[on[k[found]]]
    return out


def _empty() -> dict[str, np.ndarray]:
    return _quads([], [], [], [], [], [], [])


FAR = 1e12


def _anchored(data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Two empty quads far outside any view put first. Bokeh positions each renderer's DOM
    element by the data's extent on screen; as data grows that CSS changes every frame and
    makes the browser recompute the page's styles. Anchored, the extent is always the whole
    frame, so nothing changes. Zero-area and off-screen: never drawn, never hovered."""
    head = {}
    for k, v in data.items():
        if k in ("left", "right") or k in ("bottom", "top"):
            head[k] = np.array([-FAR, FAR])
        elif v.dtype == object:
            head[k] = np.array(["", ""], dtype=object)
        else:
            head[k] = np.zeros(2, dtype=v.dtype)
    head["right"] = head["left"].copy()
    head["top"] = head["bottom"].copy()
    return {k: np.concatenate([head[k], v]) for k, v in data.items()}


def _concat_by_start(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """One source of several kinds, sorted by (start, kind): rows that appear later always
    start later, so from frame to frame the source only grows (stream) or has its last rows'
    ends moved (patch)."""
    merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    rank = np.array([KIND_RANK.get(w, 3) for w in merged["what"]], dtype=np.int64)
    order = np.lexsort((rank, merged["left"]))
    return {k: v[order] for k, v in merged.items()}


class TimelineView:
    """One pane's timeline. All panes share `x_range`: one time axis."""

    def __init__(self, pane: str, x_range: Range1d):
        self.pane = pane
        self.x_range = x_range
        self.y_range = Range1d(-0.1, CPU_BASE + 1)
        names = ("past", "planned")
        self.sources = {n: ColumnDataSource(_anchored(_empty())) for n in names}
        self.device_source = ColumnDataSource(self._device_data(None, 0))
        self.syncs = {n: ColumnSync(s) for n, s in self.sources.items()}
        self.device_sync = ColumnSync(self.device_source)
        fig = figure(
            height=200,
            sizing_mode="stretch_width",
            x_range=x_range,
            y_range=self.y_range,
            toolbar_location=None,
            tools="xpan,xwheel_zoom",
            active_scroll=None,
            name=f"timeline-{pane.lower()}",
            min_border_left=70,
            min_border_right=10,
            min_border_top=4,
            output_backend="canvas",
        )
        src = self.sources
        q = dict(left="left", right="right", bottom="bottom", top="top")
        planned = fig.quad(
            **q,
            source=src["planned"],
            fill_color="colour",
            fill_alpha=0.22,
            line_color="colour",
            line_dash="dashed",
            line_alpha=0.8,
        )
        past = fig.quad(
            **q,
            source=src["past"],
            fill_color="colour",
            fill_alpha="alpha",
            line_color="white",
            line_alpha="line_alpha",
            line_width=0.5,
        )
        # The device lane is one quad renderer (every renderer costs the browser style work on
        # each paint): per frame a stacked bar (demand, prefetch, writes) and a queue-depth mark.
        dev = fig.quad(
            left="left",
            right="right",
            bottom="bottom",
            top="top",
            source=self.device_source,
            fill_color="colour",
            line_color=None,
        )
        fig.add_tools(
            HoverTool(
                renderers=[past, planned],
                tooltips=[
                    ("", "@what"),
                    ("VM", "@vm"),
                    ("from", "@left{0.0} ms"),
                    ("to", "@right{0.0} ms"),
                ],
            ),
            HoverTool(
                renderers=[dev],
                tooltips=[("", "@kind"), ("amount", "@amount"), ("frame ending", "@t{0.0} ms")],
            ),
        )
        self.now = Span(
            location=0,
            dimension="height",
            line_color="#222222",
            line_width=1.5,
            name=f"now-{pane.lower()}",
        )
        fig.add_layout(self.now)
        fig.yaxis.ticker = FixedTicker(ticks=[])  # its ticks change in place, never the model
        fig.xaxis.axis_label = "simulated time, ms"
        fig.xaxis.axis_label_text_font_size = "10px"
        fig.xaxis.major_label_text_font_size = "10px"
        fig.yaxis.major_label_text_font_size = "11px"
        fig.ygrid.visible = False
        fig.outline_line_color = None
        fig.yaxis.major_tick_line_color = None
        self.figure = fig
        self.series: RunSeries | None = None
        self.device_scale = (1.0, 1.0)
        self.frame = -1

    # -- data ----------------------------------------------------------------------------------
    def _device_data(self, s: RunSeries | None, i: int) -> dict[str, np.ndarray]:
        """Four rows per frame up to frame i: demand, prefetch and write segments of a stacked
        bar (pages finished in the frame) and a queue-depth mark."""
        if s is None:
            z = np.zeros(0)
            o = np.zeros(0, dtype=object)
            return _anchored(
                dict(left=z, right=z, bottom=z, top=z, colour=o, kind=o, amount=z, t=z)
            )
        n = i + 1
        t = s.times_ns[:n] / 1e6
        prev = np.concatenate([[t[0]], t[:-1]])
        gap = (t - prev) * 0.05
        dd = s.device_delta[:n].astype(np.float64)
        amounts = np.stack([dd[:, 0], dd[:, 2], dd[:, 1] + dd[:, 3]], axis=1)  # (n, 3)
        pages_scale, queue_scale = self.device_scale
        h = DEVICE_BAND[1] - DEVICE_BAND[0]
        tops = DEVICE_BAND[0] + np.cumsum(amounts, axis=1) / pages_scale * h * 0.95
        bottoms = np.concatenate([np.full((n, 1), DEVICE_BAND[0]), tops[:, :2]], axis=1)
        queue = s.queue_depth[:n].astype(np.float64)
        q_y = DEVICE_BAND[0] + queue / queue_scale * h * 0.95
        mark = 0.02 * h
        bottom = np.concatenate([bottoms, (q_y - mark)[:, None]], axis=1)
        top = np.concatenate([tops, (q_y + mark)[:, None]], axis=1)
        kinds = np.array(
            ["demand reads, pages", "prefetch reads, pages", "writes, pages", "queue depth, ops"],
            dtype=object,
        )
        colours = np.array(
            [
                DEVICE_COLOURS["demand"],
                DEVICE_COLOURS["prefetch"],
                DEVICE_COLOURS["write"],
                DEVICE_COLOURS["queue"],
            ],
            dtype=object,
        )
        left = np.repeat(prev + gap, 4)
        right = np.repeat(t - gap, 4)
        amount = np.concatenate([amounts, queue[:, None]], axis=1).reshape(-1)
        # Empty segments are left out (fewer quads to paint); the queue mark always stays.
        keep = (amount > 0) | (np.arange(amount.size) % 4 == 3)
        return _anchored(
            dict(
                left=left[keep],
                right=np.maximum(right, left + 1e-6)[keep],
                bottom=bottom.reshape(-1)[keep],
                top=top.reshape(-1)[keep],
                colour=np.tile(colours, n)[keep],
                kind=np.tile(kinds, n)[keep],
                amount=amount[keep],
                t=np.repeat(t, 4)[keep],
            )
        )

    def _device_prefix(self, i: int) -> dict[str, np.ndarray]:
        """The device lane up to frame i (what _device_data(series, i) returns)."""
        rows = int(self._device_rows[i])
        return {k: v[:rows] for k, v in self._device_all.items()}

    def _precompute(self, s: RunSeries) -> None:
        """Per-run arrays, so a frame only slices them."""
        P = s.n_pcpus
        names = np.asarray(s.vm_names, dtype=object)
        colours = np.asarray([vm_colour(k) for k in range(len(s.vm_names))], dtype=object)
        self._slice_bottom = CPU_BASE + (P - 1 - s.slice_pcpu).astype(np.float64)
        self._slice_colour = colours[s.slice_vm] if s.slice_vm.size else colours[:0]
        self._slice_name = names[s.slice_vm] if s.slice_vm.size else names[:0]
        self._stall_bottom = CPU_BASE + (P - 1 - s.stall_pcpu).astype(np.float64)
        stall_vm = stalled_vm(s)
        self._stall_name = (
            np.where(stall_vm >= 0, names[np.maximum(stall_vm, 0)], "").astype(object)
            if stall_vm.size
            else names[:0]
        )
        lane = (PREFETCH_BAND[1] - PREFETCH_BAND[0]) / max(1, len(s.vm_names))
        self._pf_bottom = PREFETCH_BAND[1] - (s.prefetch_vm + 1) * lane
        self._pf_top = self._pf_bottom + lane * 0.85
        self._pf_colour = colours[s.prefetch_vm] if s.prefetch_vm.size else colours[:0]
        self._pf_name = names[s.prefetch_vm] if s.prefetch_vm.size else names[:0]
        self._colours, self._names = colours, names
        self._vcpu_vm = np.asarray(s.recording.vcpu_vm, dtype=np.int64)

    def _precompute_past(self, s: RunSeries) -> None:
        """Every row "past" will ever hold, in its order (_concat_by_start's: a stable sort, so
        the rows of any frame keep it), with the frame each row appears at: a frame then only
        selects and clips, sorting nothing."""
        ran = _quads(
            s.slice_start_ns / 1e6, s.slice_end_ns / 1e6, self._slice_bottom,
            self._slice_bottom + ROW_H, self._slice_colour, self._slice_name,
            np.full(s.slice_start_ns.size, "ran", dtype=object),
        )  # fmt: skip
        stalled = _quads(
            s.stall_start_ns / 1e6, s.stall_end_ns / 1e6, self._stall_bottom,
            self._stall_bottom + ROW_H * s.stall_fraction,
            np.full(s.stall_start_ns.size, "#000000", dtype=object), self._stall_name,
            np.full(s.stall_start_ns.size, "stalled", dtype=object),
        )  # fmt: skip
        prefetching = _quads(
            s.prefetch_start_ns / 1e6, s.prefetch_end_ns / 1e6, self._pf_bottom, self._pf_top,
            self._pf_colour, self._pf_name,
            np.full(s.prefetch_start_ns.size, "prefetching", dtype=object),
        )  # fmt: skip
        parts = [ran, stalled, prefetching]
        merged = {k: np.concatenate([p[k] for p in parts]) for k in ran}
        rank = np.array([KIND_RANK.get(w, 3) for w in merged["what"]], dtype=np.int64)
        order = np.lexsort((rank, merged["left"]))
        self._past_all = {k: v[order] for k, v in merged.items()}
        # What ran or prefetched appears once it started before now, and is cut at now; a
        # stall piece appears once its frame was recorded.
        appear = np.concatenate(
            [np.searchsorted(s.times_ns, s.slice_start_ns, side="right"), s.stall_frame,
             np.searchsorted(s.times_ns, s.prefetch_start_ns, side="right")]
        )  # fmt: skip
        end_ns = np.concatenate([s.slice_end_ns, s.stall_end_ns, s.prefetch_end_ns])
        clipped = np.concatenate(
            [np.ones(s.slice_end_ns.size, bool), np.zeros(s.stall_end_ns.size, bool),
             np.ones(s.prefetch_end_ns.size, bool)]
        )  # fmt: skip
        self._past_appear = appear.astype(np.int64)[order]
        self._past_end_ns = end_ns.astype(np.int64)[order]
        self._past_clipped = clipped[order]

    def _past_at(self, i: int) -> np.ndarray:
        """Indices (into the precomputed rows) of the rows "past" holds at frame i."""
        return np.flatnonzero(self._past_appear <= i)

    def _past_data(self, s: RunSeries, i: int, rows: np.ndarray) -> dict[str, np.ndarray]:
        """ "past" at frame i from the precomputed rows: what ran or prefetched up to now is
        cut at now."""
        now = int(s.times_ns[i])
        end = self._past_end_ns[rows]
        right = np.where(self._past_clipped[rows], np.minimum(end, now), end) / 1e6
        data = {k: v[rows] for k, v in self._past_all.items()}
        data["right"] = right
        return _anchored(data)

    def _frame_data(
        self, s: RunSeries, i: int, past: bool = True
    ) -> dict[str, dict[str, np.ndarray]]:
        """The sources at frame i computed from scratch ("past" only when asked: show takes
        it from the rows precomputed per run, _past_data, and tests compare the two)."""
        now = int(s.times_ns[i])
        P = s.n_pcpus
        out: dict[str, dict[str, np.ndarray]] = {}
        n = int(np.searchsorted(s.slice_start_ns, now, side="left"))
        plan = s.recording.plans[i]
        # The plan holds the next slices; a slice running now is planned to go on until the
        # plan's next start on its pCPU: ghost that remainder too.
        running = np.flatnonzero(s.slice_end_ns[:n] > now)
        rest_start, rest_end, rest_pcpu, rest_vcpu = [], [], [], []
        for r in running.tolist():
            p = int(s.slice_pcpu[r])
            nxt = plan.start_ns[plan.pcpu == p]
            nxt = nxt[nxt > now]
            if nxt.size:
                rest_start.append(now)
                rest_end.append(int(nxt.min()))
                rest_pcpu.append(p)
                rest_vcpu.append(int(s.slice_vcpu[r]))
        vcpu = np.concatenate([np.asarray(rest_vcpu, dtype=np.int64), plan.vcpu])
        pcpu = np.concatenate([np.asarray(rest_pcpu, dtype=np.int64), plan.pcpu])
        start = np.concatenate([np.asarray(rest_start, dtype=np.int64), plan.start_ns])
        end = np.concatenate([np.asarray(rest_end, dtype=np.int64), plan.end_ns])
        pv = self._vcpu_vm[vcpu] if vcpu.size else vcpu
        pb = CPU_BASE + (P - 1 - pcpu).astype(np.float64)
        out["planned"] = _anchored(
            _quads(
                np.maximum(start, now) / 1e6,
                end / 1e6,
                pb,
                pb + ROW_H,
                self._colours[pv] if pv.size else self._colours[:0],
                self._names[pv] if pv.size else self._names[:0],
                np.full(pv.size, "planned", dtype=object),
            )
        )
        if past:
            out["past"] = self._past_from_scratch(s, i, n)
        return out

    def _past_from_scratch(self, s: RunSeries, i: int, n: int) -> dict[str, np.ndarray]:
        """ "past" at frame i (n slices started before now), sorted here."""
        now = int(s.times_ns[i])
        ran = _quads(
            s.slice_start_ns[:n] / 1e6,
            np.minimum(s.slice_end_ns[:n], now) / 1e6,
            self._slice_bottom[:n],
            self._slice_bottom[:n] + ROW_H,
            self._slice_colour[:n],
            self._slice_name[:n],
            np.full(n, "ran", dtype=object),
        )
        # A stall piece is known once its frame has been recorded.
        keep = np.flatnonzero(s.stall_frame <= i)
        sb = self._stall_bottom[keep]
        stalled = _quads(
            s.stall_start_ns[keep] / 1e6,
            s.stall_end_ns[keep] / 1e6,
            sb,
            sb + ROW_H * s.stall_fraction[keep],
            np.full(keep.size, "#000000", dtype=object),
            self._stall_name[keep],
            np.full(keep.size, "stalled", dtype=object),
        )
        k = int(np.searchsorted(s.prefetch_start_ns, now, side="left"))
        prefetching = _quads(
            s.prefetch_start_ns[:k] / 1e6,
            np.minimum(s.prefetch_end_ns[:k], now) / 1e6,
            self._pf_bottom[:k],
            self._pf_top[:k],
            self._pf_colour[:k],
            self._pf_name[:k],
            np.full(k, "prefetching", dtype=object),
        )
        return _anchored(_concat_by_start([ran, stalled, prefetching]))

    # -- updates -------------------------------------------------------------------------------
    def set_run(self, series: RunSeries, device_scale: tuple[float, float]) -> None:
        """Show a new run at frame 0 (full replacement)."""
        self.series = series
        self._precompute(series)
        self.device_scale = (max(device_scale[0], 1.0), max(device_scale[1], 1.0))
        P = series.n_pcpus
        data = self._frame_data(series, 0)
        for name, sync in self.syncs.items():
            sync.replace(data[name])
        self._precompute_past(series)
        self._past_rows = self._past_at(0)
        # The device lane up to frame i is a prefix of the whole run's lane: built once, a
        # frame then streams its own rows and compares nothing.
        self._device_all = self._device_data(series, series.n_frames - 1)
        kept = np.searchsorted(self._device_all["t"][2:], series.times_ns / 1e6, side="right")
        self._device_rows = 2 + kept  # rows (anchors first) up to and including each frame
        self._device_frame = 0
        self.device_sync.replace(self._device_prefix(0))
        self.set_layout(P)
        self.now.location = 0.0
        self.frame = 0

    def set_layout(self, n_pcpus: int) -> None:
        """Rows, ranges and size for this many pCPUs (set before a run: see ResidencyView)."""
        P = n_pcpus
        self.y_range.update(start=-0.1, end=CPU_BASE + P - 0.1)
        ticks = {cpu_row(p, P) + ROW_H / 2: f"pCPU {p}" for p in range(P)}
        ticks[sum(PREFETCH_BAND) / 2] = "prefetch"
        ticks[sum(DEVICE_BAND) / 2] = "swap dev"
        ticker = self.figure.yaxis.ticker
        if list(ticker.ticks) != sorted(ticks):
            ticker.ticks = sorted(ticks)
        self.figure.yaxis.major_label_overrides = {float(k): v for k, v in ticks.items()}
        height = height_for(P)
        if self.figure.height != height:
            self.figure.height = height

    def show(self, i: int) -> None:
        """Frame i: grow or shrink what ran up to now, replace the plan, move the cursor."""
        s = self.series
        if s is None:
            return
        i = min(max(i, 0), s.n_frames - 1)
        planned = self._frame_data(s, i, past=False)["planned"]
        self.syncs["planned"].update(planned)
        rows = self._past_at(i)
        past = self._past_data(s, i, rows)
        kept = self._past_rows
        if rows.size >= kept.size and np.array_equal(rows[: kept.size], kept):
            # The rows sent are still the first rows, in place: only their ends can move.
            self.syncs["past"].update(past, may_change=("right",))
        else:
            self.syncs["past"].update(past)
        self._past_rows = rows
        if i >= self._device_frame:
            self.device_sync.grow(self._device_prefix(i))  # the lane only grows forward
        else:
            self.device_sync.update(self._device_prefix(i))
        self._device_frame = i
        self.now.location = float(s.times_ns[i]) / 1e6
        self.frame = i
