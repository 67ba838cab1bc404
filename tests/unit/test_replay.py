"""Exact textbook replay: published fault counts, Belady's anomaly, stack and optimality laws."""

from __future__ import annotations

import itertools
from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import VmswapError
from engine.replay import POLICIES, ReplayError, ReplayResult, replay, stack_distances

SILBERSCHATZ = [7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1]
BELADY = [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5]


# --- obviously correct per-reference implementations ----------------------------------------


def reference_faults(pages: list[int], frames: int, policy: str) -> int:
    """Faults of the plainest possible implementation of each policy, one reference at a time."""
    memory: list[int] = []  # fifo: load order; lru: recency order (oldest first); clock: slots
    recency: OrderedDict[int, None] = OrderedDict()
    bits: list[bool] = []
    hand = 0
    faults = 0
    for t, page in enumerate(pages):
        if policy == "lru":
            if page in recency:
                recency.move_to_end(page)
                continue
            faults += 1
            if len(recency) == frames:
                recency.popitem(last=False)
            recency[page] = None
            continue
        if page in memory:
            if policy == "clock":
                bits[memory.index(page)] = True
            continue
        faults += 1
        if len(memory) < frames:
            memory.append(page)
            bits.append(False)
        elif policy == "fifo":
            memory.pop(0)
            memory.append(page)
        elif policy == "clock":
            while bits[hand]:
                bits[hand] = False
                hand = (hand + 1) % frames
            memory[hand] = page
            hand = (hand + 1) % frames
        else:  # opt: farthest next use; never used again counts as infinitely far
            future = pages[t + 1 :]
            distance = [future.index(q) if q in future else len(pages) for q in memory]
            memory.pop(distance.index(max(distance)))
            memory.append(page)
    return faults


def list_lru_faults(pages: list[int], frames: int) -> int:
    """LRU with a plain list: remove on hit, append at the end, evict from the front."""
    stack: list[int] = []
    faults = 0
    for page in pages:
        if page in stack:
            stack.remove(page)
        else:
            faults += 1
            if len(stack) == frames:
                stack.pop(0)
        stack.append(page)
    return faults


def naive_stack_distance(pages: list[int]) -> list[int]:
    """Distinct other pages since the previous use of the same page, or -1 on first use."""
    out = []
    for t, page in enumerate(pages):
        previous = [s for s in range(t) if pages[s] == page]
        out.append(len(set(pages[previous[-1] + 1 : t])) if previous else -1)
    return out


page_strings = st.lists(st.integers(0, 12), min_size=0, max_size=120)


# --- published counts ------------------------------------------------------------------------


@pytest.mark.parametrize(("policy", "faults"), [("fifo", 15), ("lru", 12), ("opt", 9)])
def test_silberschatz_reference_string(policy: str, faults: int) -> None:
    """Silberschatz's string with 3 frames: FIFO 15, LRU 12, OPT 9 faults (OS Concepts, ch. 10)."""
    result = replay(np.array(SILBERSCHATZ), 3, policy)
    assert result == ReplayResult(references=20, faults=faults, hits=20 - faults)


def test_silberschatz_clock_hand_traced() -> None:
    """Second chance on Silberschatz's string with 3 frames faults 11 times (traced by hand).

    After the 3 cold misses the victims are 7, 1, 2, 3, 4, 0, 3, 2: e.g. the 4th fault (page 2)
    replaces 7 (bit clear), the 5th (page 3) clears 0's bit and replaces 1.
    """
    assert replay(np.array(SILBERSCHATZ), 3, "clock").faults == 11


@pytest.mark.parametrize(
    ("policy", "frames", "faults"),
    [("fifo", 3, 9), ("fifo", 4, 10), ("lru", 3, 10), ("lru", 4, 8), ("opt", 3, 7), ("opt", 4, 6)],
)
def test_belady_string(policy: str, frames: int, faults: int) -> None:
    """Belady's string: FIFO has the anomaly (9 faults with 3 frames, 10 with 4); LRU, OPT not."""
    assert replay(np.array(BELADY), frames, policy).faults == faults


@pytest.mark.parametrize("policy", POLICIES)
def test_enough_frames_fault_only_on_first_touch(policy: str) -> None:
    """With at least as many frames as distinct pages, only cold misses fault."""
    pages = np.array(SILBERSCHATZ * 3)
    assert replay(pages, 6, policy).faults == 6
    assert replay(pages, 100, policy).faults == 6


@pytest.mark.parametrize("policy", POLICIES)
def test_one_frame_faults_on_every_change_of_page(policy: str) -> None:
    """With one frame, a reference hits exactly when it repeats the previous page."""
    pages = np.array([1, 1, 2, 2, 2, 1, 3, 3, 1])
    assert replay(pages, 1, policy).faults == 5


@pytest.mark.parametrize("policy", POLICIES)
def test_empty_stream(policy: str) -> None:
    """An empty stream has no references, faults or hits."""
    assert replay(np.array([], dtype=np.int64), 4, policy) == ReplayResult(0, 0, 0)


@pytest.mark.parametrize("policy", POLICIES)
def test_large_page_numbers_are_plain_labels(policy: str) -> None:
    """Page numbers are labels: shifting them all by 2**62 changes nothing."""
    pages = np.array(SILBERSCHATZ, dtype=np.int64)
    assert replay(pages + 2**62, 3, policy) == replay(pages, 3, policy)


def test_stack_distances_small_example() -> None:
    """Stack distance: distinct other pages since the last use; -1 on first use."""
    assert stack_distances(np.array([1, 2, 1, 3, 2, 1, 1])).tolist() == [-1, -1, 1, -1, 2, 2, 0]


# --- errors ----------------------------------------------------------------------------------


def test_unknown_policy_suggests_a_name() -> None:
    """An unknown policy is a VmswapError with a 'did you mean' hint and the allowed names."""
    with pytest.raises(ReplayError, match=r"unknown replay policy 'lruu' \(did you mean 'lru'\?\)"):
        replay(np.array([1]), 1, "lruu")
    assert issubclass(ReplayError, VmswapError)


@pytest.mark.parametrize("frames", [0, -3, 2.5, True, "3"])
def test_frames_must_be_a_positive_whole_number(frames: object) -> None:
    """frames must be a whole number ≥ 1; the message names frames and the value."""
    with pytest.raises(ReplayError, match=r"frames must be a whole number of frames ≥ 1, got"):
        replay(np.array([1, 2]), frames, "lru")  # type: ignore[arg-type]


def test_pages_must_be_a_1d_integer_array() -> None:
    """Floats or 2-D arrays are not reference streams."""
    with pytest.raises(ReplayError, match="integers"):
        replay(np.array([1.5, 2.0]), 2, "fifo")
    with pytest.raises(ReplayError, match="1-D"):
        replay(np.zeros((2, 2), dtype=np.int64), 2, "fifo")


# --- laws, checked on random strings ---------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(pages=page_strings, frames=st.integers(1, 14), policy=st.sampled_from(POLICIES))
def test_fast_replay_matches_the_obvious_implementation(
    pages: list[int], frames: int, policy: str
) -> None:
    """Every policy's fast replay counts exactly the faults of a per-reference list version."""
    result = replay(np.array(pages, dtype=np.int64), frames, policy)
    assert result.faults == reference_faults(pages, frames, policy)
    assert result.hits + result.faults == result.references == len(pages)


@settings(max_examples=200, deadline=None)
@given(pages=page_strings, frames=st.integers(1, 14))
def test_lru_matches_a_plain_list_stack(pages: list[int], frames: int) -> None:
    """LRU agrees with the list-based textbook stack (remove on hit, evict the front)."""
    assert replay(np.array(pages, dtype=np.int64), frames, "lru").faults == list_lru_faults(
        pages, frames
    )


@settings(max_examples=150, deadline=None)
@given(pages=page_strings)
def test_stack_policies_never_fault_more_with_more_frames(pages: list[int]) -> None:
    """LRU and OPT are stack algorithms: faults never increase as frames are added."""
    arr = np.array(pages, dtype=np.int64)
    for policy in ("lru", "opt"):
        faults = [replay(arr, frames, policy).faults for frames in range(1, 15)]
        assert all(a >= b for a, b in itertools.pairwise(faults)), (policy, faults)


@settings(max_examples=150, deadline=None)
@given(pages=page_strings, frames=st.integers(1, 14))
def test_opt_is_a_lower_bound(pages: list[int], frames: int) -> None:
    """Belady's MIN never faults more than FIFO, LRU or CLOCK, and once at least per page."""
    arr = np.array(pages, dtype=np.int64)
    best = replay(arr, frames, "opt").faults
    assert best >= len(set(pages))
    for policy in ("fifo", "lru", "clock"):
        assert best <= replay(arr, frames, policy).faults


@settings(max_examples=150, deadline=None)
@given(pages=page_strings)
def test_stack_distances_match_the_definition(pages: list[int]) -> None:
    """The one-pass stack distances equal the distinct-pages-since-last-use definition."""
    assert stack_distances(np.array(pages, dtype=np.int64)).tolist() == naive_stack_distance(pages)
