"""Only what changed is sent: stream for appended rows, patch for changed ones."""

from __future__ import annotations

import numpy as np
from bokeh.document import Document
from bokeh.document.events import ColumnDataChangedEvent, ColumnsPatchedEvent, ColumnsStreamedEvent
from bokeh.models import ColumnDataSource

from webapp.views.sync import ColumnSync


def _recorder(source: ColumnDataSource) -> list:
    doc = Document()
    doc.add_root(source)
    events: list = []
    doc.on_change(lambda e: events.append(e))
    return events


def test_appending_rows_streams_only_them():
    """Growing from 3 to 5 rows sends a stream of the 2 new rows."""
    src = ColumnDataSource()
    sync = ColumnSync(src)
    sync.replace({"x": np.arange(3.0)})
    events = _recorder(src)
    assert sync.update({"x": np.arange(5.0)}) == "stream"
    assert [type(e) for e in events] == [ColumnsStreamedEvent]
    assert list(events[0].data["x"]) == [3.0, 4.0]


def test_changed_rows_are_patched_and_new_ones_streamed():
    """The last row's end moved and one row was added: one patch and one stream."""
    src = ColumnDataSource()
    sync = ColumnSync(src)
    sync.replace({"left": np.array([0.0, 10.0]), "right": np.array([10.0, 15.0])})
    events = _recorder(src)
    kind = sync.update({"left": np.array([0.0, 10.0, 20.0]), "right": np.array([10.0, 20.0, 21.0])})
    assert kind == "patch+stream"
    assert [type(e) for e in events] == [ColumnsPatchedEvent, ColumnsStreamedEvent]
    assert events[0].patches == {"right": [(1, 20.0)]}
    assert list(src.data["right"]) == [10.0, 20.0, 21.0]


def test_shrinking_or_mostly_changed_data_is_replaced():
    """Fewer rows (scrubbing back) or most rows changed: one full replacement."""
    src = ColumnDataSource()
    sync = ColumnSync(src)
    sync.replace({"x": np.arange(20.0)})
    events = _recorder(src)
    assert sync.update({"x": np.arange(15.0)}) == "replace"
    assert sync.update({"x": np.arange(15.0) + 100}) == "replace"
    assert all(isinstance(e, ColumnDataChangedEvent) for e in events)


def test_unchanged_data_sends_nothing():
    """The same data again sends no event, NaN included."""
    src = ColumnDataSource()
    sync = ColumnSync(src)
    sync.replace({"x": np.array([np.nan, 1.0])})
    events = _recorder(src)
    assert sync.update({"x": np.array([np.nan, 1.0])}) == "none"
    assert events == []
