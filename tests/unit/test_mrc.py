"""Miss-ratio curves: the one-pass LRU curve and per-size replays agree with replay exactly."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.mrc import default_frames, fault_counts, mrc
from engine.replay import POLICIES, ReplayError, replay
from engine.traces import read_trace

LIRS_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "traces" / "lirs"


@settings(max_examples=150, deadline=None)
@given(pages=st.lists(st.integers(0, 30), min_size=1, max_size=300))
def test_one_pass_lru_curve_equals_replay_at_every_size(pages: list[int]) -> None:
    """The stack-distance LRU curve gives replay's exact fault count at every frame count."""
    arr = np.array(pages, dtype=np.int64)
    sizes = list(range(1, len(set(pages)) + 3))
    counts = fault_counts(arr, sizes, ("lru",))["lru"]
    assert counts.tolist() == [replay(arr, size, "lru").faults for size in sizes]


@settings(max_examples=60, deadline=None)
@given(
    pages=st.lists(st.integers(0, 15), min_size=1, max_size=150),
    sizes=st.lists(st.integers(1, 20), min_size=1, max_size=8),
)
def test_every_policy_curve_equals_replay(pages: list[int], sizes: list[int]) -> None:
    """For every policy, each point is replay's faults ÷ references, in the order given."""
    arr = np.array(pages, dtype=np.int64)
    curves = mrc(arr, sizes, POLICIES)
    assert set(curves) == set(POLICIES)
    for policy in POLICIES:
        expected = [replay(arr, size, policy).faults / len(pages) for size in sizes]
        assert curves[policy].tolist() == expected


@pytest.mark.skipif(not LIRS_DIR.is_dir(), reason=f"LIRS traces not found in {LIRS_DIR}")
def test_lru_curve_of_a_real_trace_equals_replay() -> None:
    """On the LIRS 'multi1' trace the one-pass LRU curve matches replay at 40 sizes."""
    pages = read_trace(LIRS_DIR / "multi1.trace.gz").pages
    sizes = default_frames(len(np.unique(pages)), points=40)
    counts = fault_counts(pages, sizes, ("lru",))["lru"]
    assert counts.tolist() == [replay(pages, size, "lru").faults for size in sizes]


def test_lru_curve_is_non_increasing_and_ends_at_cold_misses() -> None:
    """The LRU miss ratio never rises with more frames and reaches distinct ÷ references."""
    rng = np.random.default_rng(7)
    pages = rng.zipf(1.3, 5000) % 400
    distinct = len(np.unique(pages))
    curve = mrc(pages, list(range(1, distinct + 1)))["lru"]
    assert np.all(np.diff(curve) <= 0)
    assert curve[-1] == distinct / len(pages)


def test_default_frames_spread_up_to_distinct_pages() -> None:
    """Default frame counts rise strictly, start small and end at the distinct-page count."""
    assert default_frames(5) == [1, 2, 3, 4, 5]
    frames = default_frames(1223)
    assert frames[-1] == 1223 and len(frames) == 20
    assert all(a < b for a, b in itertools.pairwise(frames)) and frames[0] >= 1


def test_bad_arguments_are_user_errors() -> None:
    """Unknown policies, frame counts below 1 and an empty frame list are ReplayErrors."""
    pages = np.array([1, 2, 3])
    with pytest.raises(ReplayError, match=r"did you mean 'fifo'"):
        mrc(pages, [1], ("fifa",))
    with pytest.raises(ReplayError, match=r"every frame count must be a whole number"):
        mrc(pages, [2, 0])
    with pytest.raises(ReplayError, match="at least one frame count"):
        mrc(pages, [])


def test_empty_stream_has_zero_miss_ratio() -> None:
    """An empty stream has miss ratio 0 at every size rather than a division by zero."""
    assert mrc(np.array([], dtype=np.int64), [1, 2], ("lru", "fifo"))["fifo"].tolist() == [0, 0]
