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


def test_past_from_the_rows_of_the_run_is_past_from_scratch(small_runs):
    """For every frame, "past" selected and cut from the rows precomputed per run equals
    "past" built and sorted from scratch, column by column."""
    d = Dashboard()
    d.set_runs(small_runs, ("A", "B"))
    for pane, s in (("A", small_runs.a), ("B", small_runs.b)):
        view = d.timelines[pane]
        for i in range(s.n_frames):
            fast = view._past_data(s, i, view._past_at(i))
            assert _equal(fast, view._frame_data(s, i)["past"]), (pane, i)


def test_a_played_timeline_holds_what_a_fresh_one_shows(small_runs):
    """After playing every frame (only the ends of rows compared), the browser's copy of
    both sources equals both sources built from scratch at the last frame."""
    d = Dashboard()
    d.set_runs(small_runs, ("A", "B"))
    last = small_runs.n_frames - 1
    for i in range(small_runs.n_frames):
        d.show(i, playing=True)
    for p, s in (("A", small_runs.a), ("B", small_runs.b)):
        scratch = d.timelines[p]._frame_data(s, last)
        for name in ("past", "planned"):
            assert _equal(d.timelines[p].sources[name].data, scratch[name]), (p, name)
