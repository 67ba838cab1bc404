"""Cheaper frames send the same picture: the device lane, built once per run and streamed a
frame's rows at a time, equals the lane computed from scratch at every frame, forwards,
after a jump back and in the browser's copy of the source."""

from __future__ import annotations

import numpy as np

from webapp.views.dashboard import Dashboard


def _equal(a: dict, b: dict) -> bool:
    return set(a) == set(b) and all(list(a[k]) == list(b[k]) for k in a)


def test_the_device_lane_prefix_is_the_lane_at_each_frame(small_runs):
    """For every frame, the lane's prefix is exactly what _device_data computes for it."""
    d = Dashboard()
    d.set_runs(small_runs, ("A", "B"))
    for pane, s in (("A", small_runs.a), ("B", small_runs.b)):
        view = d.timelines[pane]
        assert np.all(np.diff(s.times_ns) > 0)
        for i in range(s.n_frames):
            assert _equal(view._device_prefix(i), view._device_data(s, i)), (pane, i)


def test_playing_then_jumping_back_leaves_the_source_as_a_fresh_show(small_runs):
    """Play every frame (rows streamed, nothing compared), jump back to frame 3, play on:
    the device source equals that of a dashboard that showed the same frame from scratch,
    and forward play only ever streamed."""
    d1, d2 = Dashboard(), Dashboard()
    d1.set_runs(small_runs, ("A", "B"))
    d2.set_runs(small_runs, ("A", "B"))
    n = small_runs.n_frames
    for i in range(n):
        d1.show(i, playing=True)
    assert set(d1.timelines["A"].device_sync.stats) <= {"replace", "stream", "none"}
    assert d1.timelines["A"].device_sync.stats["replace"] == 1  # set_runs only
    for frame in (3, min(n - 1, 7)):
        d1.show(frame)
        d2.show(frame)
        for p in ("A", "B"):
            a = d1.timelines[p].device_source.data
            b = d2.timelines[p].device_source.data
            assert _equal(a, b), (p, frame)
