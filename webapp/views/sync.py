"""Send only what changed: keep a ColumnDataSource equal to new arrays with stream and patch.

Bokeh has no back-pressure, so every byte per frame counts (DESIGN.md §3: patching a band sent
14–35× fewer bytes than replacing it). Each sync remembers what it last sent and compares.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from bokeh.models import ColumnDataSource

INLINE_MAX = 4096  # arrays up to this size travel as JSON lists, not binary buffers


def _wire(v: np.ndarray) -> Any:
    """Small arrays as plain lists: Bokeh sends every ndarray as a separate binary websocket
    frame (two, with its header), and with dozens per frame the writes cost more than the
    bytes (measured: ~88 socket writes per frame before, a handful after)."""
    return v.tolist() if v.size <= INLINE_MAX else v


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True in a boolean vector."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True))


def _differs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise a != b, with NaN equal to NaN (NaN breaks lines on purpose)."""
    d = a != b
    if a.dtype.kind == "f" and b.dtype.kind == "f":
        d &= ~(np.isnan(a) & np.isnan(b))
    return d


class ColumnSync:
    """Mirror of one source with equal-length columns.

    `update(data)` streams rows appended at the end, patches rows that changed (contiguous
    runs become slices), and replaces the whole data only when rows were removed, the columns
    differ, or most rows changed (a patch would then cost more than the data)."""

    def __init__(self, source: ColumnDataSource):
        self.source = source
        self.sent: dict[str, np.ndarray] | None = None
        self.stats: Counter[str] = Counter()

    def replace(self, data: Mapping[str, Any]) -> str:
        arrays = {k: np.asarray(v) for k, v in data.items()}
        self.source.data = {k: _wire(v) for k, v in arrays.items()}
        self.sent = {k: v.copy() for k, v in arrays.items()}
        self.stats["replace"] += 1
        return "replace"

    def _rows(self, new: dict[str, np.ndarray]) -> tuple[int, int] | None:
        """Rows sent and rows in `new`; None when only a replace will do (nothing sent yet,
        other columns, fewer rows)."""
        old = self.sent
        if old is None or set(new) != set(old):
            return None
        n_old = len(next(iter(old.values()))) if old else 0
        n_new = len(next(iter(new.values()))) if new else 0
        return None if n_new < n_old else (n_old, n_new)

    def update(self, data: Mapping[str, Any], may_change: Sequence[str] | None = None) -> str:
        """Bring the source to `data`; returns what was sent: none, patch, stream, patch+stream
        or replace. `may_change`: the only columns whose rows already sent can differ (the
        caller knows the others are equal: they are not compared)."""
        new = {k: np.asarray(v) for k, v in data.items()}
        rows = self._rows(new)
        if rows is None:
            return self.replace(new)
        old, (n_old, n_new) = self.sent or {}, rows
        changed = np.zeros(n_old, dtype=bool)
        for k, v in new.items():
            if may_change is None or k in may_change:
                changed |= _differs(old[k], v[:n_old])
        n_changed = int(changed.sum())
        if n_changed > max(8, n_new // 2):
            return self.replace(new)
        kinds = []
        if n_changed:
            patches: dict[str, list[tuple[Any, Any]]] = {}
            for a, b in _runs(changed):
                for k, v in new.items():
                    if may_change is not None and k not in may_change:
                        continue
                    if not _differs(old[k][a:b], v[a:b]).any():
                        continue
                    item = (a, v[a].item()) if b - a == 1 else (slice(a, b), v[a:b].tolist())
                    patches.setdefault(k, []).append(item)
            self.source.patch(patches)
            kinds.append("patch")
        if n_new > n_old:
            self.source.stream({k: _wire(v[n_old:]) for k, v in new.items()})
            kinds.append("stream")
        self.sent = {k: v.copy() for k, v in new.items()}
        kind = "+".join(kinds) or "none"
        self.stats[kind] += 1
        return kind

    def grow(self, data: Mapping[str, Any]) -> str:
        """Bring the source to `data` when its first rows are what was sent (the caller knows:
        e.g. prefixes of arrays fixed for a run): only the rows beyond are streamed, nothing
        is compared. The arrays are kept, not copied: they must not change afterwards."""
        new = {k: np.asarray(v) for k, v in data.items()}
        rows = self._rows(new)
        if rows is None:
            return self.replace(new)
        n_old, n_new = rows
        kind = "none"
        if n_new > n_old:
            self.source.stream({k: _wire(v[n_old:]) for k, v in new.items()})
            kind = "stream"
        self.sent = new
        self.stats[kind] += 1
        return kind


class RowArraySync:
    """Mirror of a source whose rows each hold arrays (one image per VM): a row whose arrays
    changed is patched whole; unchanged rows send nothing."""

    def __init__(self, source: ColumnDataSource, columns: Sequence[str]):
        self.source = source
        self.columns = tuple(columns)
        self.sent: dict[str, list[np.ndarray]] = {}
        self.stats: Counter[str] = Counter()

    def replace(self, data: Mapping[str, Any]) -> None:
        self.source.data = dict(data)
        self.sent = {c: [np.array(a, copy=True) for a in data[c]] for c in self.columns}
        self.stats["replace"] += 1

    def update(self, arrays: Mapping[str, Sequence[np.ndarray]]) -> int:
        """Patch the rows whose arrays differ; returns how many rows were sent."""
        rows: set[int] = set()
        for c in self.columns:
            for i, a in enumerate(arrays[c]):
                if not np.array_equal(self.sent[c][i], a):
                    rows.add(i)
        if rows:
            order = sorted(rows)
            self.source.patch({c: [(i, arrays[c][i]) for i in order] for c in self.columns})
            for c in self.columns:
                for i in order:
                    self.sent[c][i] = np.array(arrays[c][i], copy=True)
            self.stats["patch"] += 1
        else:
            self.stats["none"] += 1
        return len(rows)
