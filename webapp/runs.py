"""A pair of runs (policy A and B on one scenario) and the per-frame series the views draw.

Everything here is a pure function of engine recordings (numpy only, no Panel): views read it,
tests check it without a browser. Per-frame events come from deltas of cumulative counters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.bounded_cache import BoundedCache
from engine.simulator import RunResult

# What the residency picture distinguishes, bottom of a VM's strip to top.
DISPLAY_STATES = ("resident", "dirty", "prefetched", "in flight", "swapped", "untouched")
_ENGINE_TO_DISPLAY = {
    "clean": "resident",
    "dirty": "dirty",
    "prefetched": "prefetched",
    "reading": "in flight",
    "writing": "in flight",
    "swapped": "swapped",
    "untouched": "untouched",
}
MAX_DISPLAY_COLUMNS = 1024  # well under the 2,048 the browser paints fast (DESIGN.md §3)


def state_matrix(state_names: tuple[str, ...]) -> np.ndarray:
    """(n_engine_states, n_display_states) 0/1 matrix; an unknown engine state counts as
    'in flight' so no page ever disappears from the picture."""
    m = np.zeros((len(state_names), len(DISPLAY_STATES)), dtype=np.int64)
    for i, name in enumerate(state_names):
        m[i, DISPLAY_STATES.index(_ENGINE_TO_DISPLAY.get(name, "in flight"))] = 1
    return m


def bin_edges(n_in: int, n_out: int) -> np.ndarray:
    """Start index of each of n_out groups that merge n_in adjacent bins (n_out <= n_in)."""
    return (np.arange(n_out, dtype=np.int64) * n_in) // n_out


def display_columns(recorded: int) -> int:
    return max(1, min(int(recorded), MAX_DISPLAY_COLUMNS))


@dataclass
class RunSeries:
    """Per-frame arrays of one run, derived once when the run finishes."""

    result: RunResult
    times_ns: np.ndarray  # (n_frames,)
    counters: np.ndarray  # (n_frames, n_counters, n_vms), cumulative
    counter_names: tuple[str, ...]
    device_delta: np.ndarray  # (n_frames, n_classes) pages finished in the frame
    queue_depth: np.ndarray  # (n_frames,)
    in_flight: np.ndarray  # (n_frames, n_vms) pages being read ahead of use
    slice_vm: np.ndarray  # actual slices sorted by start
    slice_vcpu: np.ndarray
    slice_pcpu: np.ndarray
    slice_start_ns: np.ndarray
    slice_end_ns: np.ndarray
    prefetch_vm: np.ndarray  # prefetch windows sorted by start
    prefetch_start_ns: np.ndarray
    prefetch_end_ns: np.ndarray
    stall_frame: np.ndarray  # stall marks: a slice's piece in one frame, sorted by start
    stall_pcpu: np.ndarray
    stall_start_ns: np.ndarray
    stall_end_ns: np.ndarray
    stall_fraction: np.ndarray  # of that VM's time on a pCPU in the frame spent stalled
    vm_names: list[str]
    n_pcpus: int
    matrix: np.ndarray = field(repr=False)

    @property
    def recording(self) -> Any:
        return self.result.recording

    @property
    def n_frames(self) -> int:
        return int(self.times_ns.size)

    def counter(self, name: str) -> np.ndarray:
        """(n_frames, n_vms) cumulative values of one counter."""
        return self.counters[:, self.counter_names.index(name), :]

    def display_counts(self, i: int) -> list[np.ndarray]:
        """Per VM, (display columns, n_display_states) page counts at frame i."""
        rec = self.recording
        res = rec.residency(min(i, self.n_frames - 1)).astype(np.int64) @ self.matrix
        out = []
        for k, cols in enumerate(rec.columns.tolist()):
            row = res[k, :cols]
            n = display_columns(cols)
            out.append(row if n == cols else np.add.reduceat(row, bin_edges(cols, n), axis=0))
        return out

    def page_ranges(self, vm: int) -> tuple[np.ndarray, np.ndarray]:
        """First and last guest page of each display column of a VM."""
        rec = self.recording
        pages, cols = int(rec.vm_pages[vm]), int(rec.columns[vm])
        n = display_columns(cols)
        first_bin = bin_edges(cols, n)
        # Recorder: page p lies in bin p * cols // pages, so bin b starts at ceil(b*pages/cols).
        lo = -(-first_bin * pages // cols)
        hi = np.append(lo[1:], pages) - 1
        return lo, hi


def derive(result: RunResult) -> RunSeries:
    """The series of one recorded run."""
    rec = result.recording
    if rec is None or rec.n_frames == 0:
        raise ValueError("the run has no recording")
    times = np.asarray(rec.times_ns, dtype=np.int64)
    counters = np.stack(rec.counters).astype(np.int64)
    dev = np.stack(rec.device_pages).astype(np.int64)
    device_delta = np.diff(dev, axis=0, prepend=np.zeros((1, dev.shape[1]), dtype=np.int64))
    names = tuple(rec.state_names)
    reading = [i for i, n in enumerate(names) if n == "reading"]
    in_flight = np.zeros((rec.n_frames, len(rec.vm_names)), dtype=np.int64)
    if reading:
        for j in range(rec.n_frames):
            in_flight[j] = rec.residency(j)[:, :, reading].sum(axis=(1, 2))
    landed = np.stack(rec.prefetch_landed).astype(np.int64)
    landed_delta = np.diff(landed, axis=0, prepend=np.zeros((1, landed.shape[1]), np.int64))
    pv, ps, pe = prefetch_windows(times, (in_flight > 0) | (landed_delta > 0))
    order = np.argsort(rec.slice_start_ns, kind="stable")
    vcpu_vm = np.asarray(rec.vcpu_vm, dtype=np.int64)
    slice_vm = vcpu_vm[rec.slice_vcpu[order]] if order.size else order.copy()
    stall_row = list(rec.counter_names).index("stall_ns")
    marks = stall_marks(
        times,
        counters[:, stall_row, :],
        slice_vm,
        rec.slice_pcpu[order],
        rec.slice_start_ns[order],
        rec.slice_end_ns[order],
    )
    return RunSeries(
        result=result,
        times_ns=times,
        counters=counters,
        counter_names=tuple(rec.counter_names),
        device_delta=device_delta,
        queue_depth=np.asarray(rec.queue_depth, dtype=np.int64),
        in_flight=in_flight,
        slice_vm=slice_vm,
        slice_vcpu=rec.slice_vcpu[order],
        slice_pcpu=rec.slice_pcpu[order],
        slice_start_ns=rec.slice_start_ns[order],
        slice_end_ns=rec.slice_end_ns[order],
        prefetch_vm=pv,
        prefetch_start_ns=ps,
        prefetch_end_ns=pe,
        stall_frame=marks[0],
        stall_pcpu=marks[1],
        stall_start_ns=marks[2],
        stall_end_ns=marks[3],
        stall_fraction=marks[4],
        vm_names=list(rec.vm_names),
        n_pcpus=int(rec.n_pcpus),
        matrix=state_matrix(names),
    )


def prefetch_windows(
    times_ns: np.ndarray, active: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge frames in which a VM had prefetches in flight or landing into windows
    (vm, start_ns, end_ns), sorted by start. Frame j covers (t[j-1], t[j]]."""
    vms, starts, ends = [], [], []
    prev = np.concatenate([[times_ns[0]], times_ns[:-1]]) if times_ns.size else times_ns
    for k in range(active.shape[1]):
        a = np.concatenate([[False], active[:, k], [False]]).astype(np.int8)
        d = np.diff(a)
        for lo, hi in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True):
            vms.append(k)
            starts.append(int(prev[lo]))
            ends.append(int(times_ns[hi - 1]))
    order = np.argsort(np.asarray(starts, dtype=np.int64), kind="stable")
    return (
        np.asarray(vms, dtype=np.int64)[order],
        np.asarray(starts, dtype=np.int64)[order],
        np.asarray(ends, dtype=np.int64)[order],
    )


def stall_marks(
    times_ns: np.ndarray,
    stall_ns: np.ndarray,
    slice_vm: np.ndarray,
    slice_pcpu: np.ndarray,
    slice_start_ns: np.ndarray,
    slice_end_ns: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cut slices at frame boundaries and give each piece the share of its VM's pCPU time in
    that frame that went to stalls: (frame, pcpu, start_ns, end_ns, fraction), sorted by start.
    Pieces with no stall are left out."""
    n_frames, n_vms = stall_ns.shape
    on_cpu = np.zeros((n_frames, n_vms), dtype=np.int64)
    pieces: list[tuple[int, int, int, int, int]] = []
    for s in range(slice_start_ns.size):
        a, b, vm = int(slice_start_ns[s]), int(slice_end_ns[s]), int(slice_vm[s])
        j = max(1, int(np.searchsorted(times_ns, a, side="right")))
        while j < n_frames and int(times_ns[j - 1]) < b:
            lo, hi = max(a, int(times_ns[j - 1])), min(b, int(times_ns[j]))
            if hi > lo:
                on_cpu[j, vm] += hi - lo
                pieces.append((j, int(slice_pcpu[s]), lo, hi, vm))
            j += 1
    d_stall = np.diff(stall_ns, axis=0, prepend=np.zeros((1, n_vms), dtype=np.int64))
    frac = np.clip(d_stall / np.maximum(on_cpu, 1), 0.0, 1.0)
    rows = [(j, p, lo, hi, float(frac[j, vm])) for j, p, lo, hi, vm in pieces if frac[j, vm] > 0.01]
    rows.sort(key=lambda r: (r[2], r[1]))
    if not rows:
        z = np.zeros(0, dtype=np.int64)
        return z, z.copy(), z.copy(), z.copy(), np.zeros(0)
    cols = list(zip(*rows, strict=True))
    return (
        np.asarray(cols[0], dtype=np.int64),
        np.asarray(cols[1], dtype=np.int64),
        np.asarray(cols[2], dtype=np.int64),
        np.asarray(cols[3], dtype=np.int64),
        np.asarray(cols[4], dtype=np.float64),
    )


# -- the event log ----------------------------------------------------------------------------

# (counter, label, unit divisor, unit) in the order a frame's events are listed.
_EVENT_COUNTERS = (
    ("major_faults", "major faults", 1, ""),
    ("stall_ns", "stalled", 1e6, " ms"),
    ("minor_faults", "first touches (minor faults)", 1, ""),
    ("prefetch_issued", "prefetch issued", 1, " pages"),
    ("prefetch_used", "prefetched pages used", 1, ""),
    ("prefetch_late", "prefetches late (touched in flight)", 1, ""),
    ("prefetch_wasted", "prefetched pages evicted unused", 1, ""),
    ("swap_out_pages", "evicted to swap", 1, " pages"),
    ("gated_dispatches", "dispatch gated", 1, ""),
    ("gating_delay_ns", "gating delay", 1e6, " ms"),
)


@dataclass(frozen=True)
class Event:
    frame: int
    t_ms: float
    kind: str
    text: str


def vm_events(series: RunSeries, vm: int, first: int, last: int) -> list[Event]:
    """Events of one VM in frames first..last (inclusive), from per-frame counter deltas,
    landed prefetches and the slices that started; oldest first."""
    first, last = max(0, first), min(series.n_frames - 1, last)
    out: list[Event] = []
    names = series.counter_names
    landed = series.recording.prefetch_landed
    for j in range(first, last + 1):
        t1 = int(series.times_ns[j])
        t0 = int(series.times_ns[j - 1]) if j > 0 else -1
        t_ms = t1 / 1e6
        cur = series.counters[j, :, vm]
        prev = series.counters[j - 1, :, vm] if j > 0 else np.zeros_like(cur)
        starts = np.flatnonzero(
            (series.slice_vm == vm) & (series.slice_start_ns > t0) & (series.slice_start_ns <= t1)
        )
        for s in starts.tolist():
            ran = (series.slice_end_ns[s] - series.slice_start_ns[s]) / 1e6
            out.append(
                Event(
                    j,
                    t_ms,
                    "dispatch",
                    f"vCPU {int(series.slice_vcpu[s])} ran on pCPU {int(series.slice_pcpu[s])} "
                    f"from {series.slice_start_ns[s] / 1e6:.1f} ms for {ran:.1f} ms",
                )
            )
        for name, label, div, unit in _EVENT_COUNTERS:
            if name not in names:
                continue
            d = int(cur[names.index(name)] - prev[names.index(name)])
            if d > 0:
                amount = f"{d / div:.2f}" if div != 1 else f"{d:,}"
                out.append(Event(j, t_ms, name, f"{label} {amount}{unit}".replace("  ", " ")))
        d_landed = int(landed[j][vm]) - (int(landed[j - 1][vm]) if j > 0 else 0)
        if d_landed > 0:
            out.append(Event(j, t_ms, "prefetch_landed", f"prefetch landed {d_landed:,} pages"))
    return out


# -- a pair of runs ---------------------------------------------------------------------------


@dataclass
class RunPair:
    """Policy A and policy B on one validated scenario, with what the views need."""

    scenario_dict: dict[str, Any]
    policy_a: dict[str, Any]
    policy_b: dict[str, Any]
    a: RunSeries
    b: RunSeries
    reference_major_faults: int | None = None  # demand paging's, for coverage
    # Demand paging's cumulative host major faults per frame (at reference_times_ns): the
    # coverage of the frame on display is measured against it, not against the whole run.
    reference_times_ns: np.ndarray | None = None
    reference_faults: np.ndarray | None = None
    # The sides that are best demand ("A", "B") and how their readahead was chosen
    # (webapp.tuning.Tuning); policy_a / policy_b then hold the chosen config.
    tunings: dict[str, Any] = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return max(self.a.n_frames, self.b.n_frames)

    @property
    def vm_names(self) -> list[str]:
        return self.a.vm_names

    def time_ms(self, i: int) -> float:
        s = self.a if self.a.n_frames >= self.b.n_frames else self.b
        return float(s.times_ns[min(max(i, 0), s.n_frames - 1)]) / 1e6

    def duration_ms(self) -> float:
        return float(self.scenario_dict.get("duration_ms", self.time_ms(self.n_frames - 1)))

    def side_note(self, pane: str) -> str:
        """How side `pane` ("A", "B") was set up when its label cannot say it all ('' for
        most): for best demand, how its readahead setting was chosen."""
        tuned = self.tunings.get(pane)
        return "" if tuned is None else str(tuned.note())

    def reference_faults_at(self, t_ns: int) -> int | None:
        """Demand paging's major faults up to simulated time `t_ns` (its last frame at or
        before it), or None without a reference run."""
        if self.reference_times_ns is None or self.reference_faults is None:
            return None
        j = int(np.searchsorted(self.reference_times_ns, t_ns, side="right")) - 1
        return int(self.reference_faults[j]) if j >= 0 else 0


def coverage(major_faults: int, reference: int | None) -> float | None:
    """Share of demand paging's major faults this run removed (DESIGN.md §2)."""
    if not reference:
        return None
    return 1.0 - major_faults / reference


def whole_figure(
    summary: dict[str, Any], reference_major_faults: int | None, key: str
) -> float | None:
    """One card's whole-run figure from a run's summary (`key` as the cards name it); None
    where it does not apply (no prefetches issued, no reference run for coverage). One
    definition, so the cards of the seed shown and the statistics over seeds agree."""
    if key == "coverage":
        return coverage(summary["major_faults"], reference_major_faults)
    if key == "prefetch_accuracy":
        return summary.get(key) if summary.get("prefetch_issued", 0) else None
    if key == "lost_time_ms":
        if "lost_time_ms" in summary:
            return float(summary["lost_time_ms"])
        if "lost_time_ns" in summary:
            return float(summary["lost_time_ns"]) / 1e6
        return (float(summary["stall_ns"]) + float(summary["gating_delay_ns"])) / 1e6
    if key == "stall_ms":
        return float(summary["stall_ns"]) / 1e6
    value = summary.get(key)
    return None if value is None else float(value)


# -- a small cache of finished runs -------------------------------------------------------------

# Finished runs keyed by the canonical JSON of (scenario, policy). A run is a pure function of
# that key (the engine is deterministic), so sessions may share it safely: nothing a session
# changes is stored here, and entries are never mutated. Bounded by bytes, well under what a
# closed session must give back (100 MB), so a heavy run is not kept alive by the cache.
RUN_CACHE_BYTES = 64 * 1024 * 1024
RUN_CACHE: BoundedCache[RunResult] = BoundedCache(RUN_CACHE_BYTES)
