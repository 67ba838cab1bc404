"""Per-frame series derived from recordings: conservation, windows, stall marks, events."""

from __future__ import annotations

import numpy as np

from webapp.runs import (
    DISPLAY_STATES,
    bin_edges,
    coverage,
    prefetch_windows,
    stall_marks,
    state_matrix,
    vm_events,
)


def test_state_matrix_maps_every_engine_state_once():
    """Each engine state lands in exactly one display state; unknown ones count as in flight."""
    m = state_matrix(
        ("untouched", "clean", "dirty", "prefetched", "swapped", "reading", "writing", "new")
    )
    assert (m.sum(axis=1) == 1).all()
    assert m[-1, DISPLAY_STATES.index("in flight")] == 1


def test_display_counts_conserve_pages(small_runs):
    """At every frame, each VM's display counts add up to its pages: no page disappears."""
    s = small_runs.a
    pages = s.recording.vm_pages
    for i in (0, s.n_frames // 2, s.n_frames - 1):
        for k, counts in enumerate(s.display_counts(i)):
            assert counts.sum() == pages[k]


def test_page_ranges_cover_the_vm(small_runs):
    """Display columns tile a VM's pages without gap or overlap."""
    s = small_runs.a
    for k in range(len(s.vm_names)):
        lo, hi = s.page_ranges(k)
        assert lo[0] == 0 and hi[-1] == s.recording.vm_pages[k] - 1
        assert (lo[1:] == hi[:-1] + 1).all()


def test_bin_edges_split_evenly():
    """Groups start at 0, increase, and differ in size by at most one."""
    e = bin_edges(10, 4)
    sizes = np.diff(np.append(e, 10))
    assert e[0] == 0 and sizes.max() - sizes.min() <= 1 and sizes.sum() == 10


def test_prefetch_windows_merge_consecutive_frames():
    """Active frames 1-2 and 4 of one VM become two windows covering (t0,t2] and (t3,t4]."""
    times = np.array([0, 10, 20, 30, 40], dtype=np.int64)
    active = np.array([[False], [True], [True], [False], [True]])
    vm, start, end = prefetch_windows(times, active)
    assert vm.tolist() == [0, 0]
    assert start.tolist() == [0, 30] and end.tolist() == [20, 40]


def test_stall_marks_share_of_time_on_cpu():
    """A VM that ran all of frame 1 and stalled half of it gets one mark of fraction 0.5."""
    times = np.array([0, 10, 20], dtype=np.int64)
    stall = np.array([[0], [5], [5]], dtype=np.int64)
    frame, pcpu, start, end, frac = stall_marks(
        times, stall, np.array([0]), np.array([1]), np.array([0]), np.array([20])
    )
    assert frame.tolist() == [1] and pcpu.tolist() == [1]
    assert (start.tolist(), end.tolist()) == ([0], [10])
    assert frac.tolist() == [0.5]


def test_events_come_from_counter_deltas(small_runs):
    """The event log lists a frame's major faults exactly as the counter grew in that frame."""
    s = small_runs.a
    faults = s.counter("major_faults")
    k = int(np.argmax(faults[-1]))
    j = int(np.argmax(np.diff(faults[:, k]))) + 1
    events = vm_events(s, k, j, j)
    texts = [e.text for e in events if e.kind == "major_faults"]
    assert texts == [f"major faults {int(faults[j, k] - faults[j - 1, k]):,}"]
    assert all(e.frame == j for e in events)


def test_coverage_is_faults_removed_over_demand():
    """Coverage = 1 − faults / demand's faults; undefined without demand faults."""
    assert coverage(25, 100) == 0.75
    assert coverage(5, 0) is None and coverage(5, None) is None
